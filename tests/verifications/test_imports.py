"""The CSV import: template, decoding, headers, per-line errors, limits, staging, and the
all-or-nothing commit with its audit trail."""

import csv
import io
import os
import stat
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from admissions.audit import AuditEntry, audit_chains_verify, audit_record, audit_record_many
from admissions.enums import AuditAction
from admissions.infra.bulk import bulk_insert
from admissions.models import Applicant, AuditEvent
from tests.factories import ApplicantFactory, InstitutionFactory, UserFactory
from verifications import imports
from verifications.enums import BatchKind, BatchStatus, ClaimKind
from verifications.imports import (
    COLUMNS,
    ImportRefused,
    StagedImportExpired,
    StagedImportNotFound,
    import_commit,
    import_commit_staged,
    import_discard,
    import_load,
    import_stage,
    import_stage_purge,
    import_template_csv,
    parse_import,
)
from verifications.imports.columns import TEMPLATE_EXAMPLE
from verifications.models import Claim, InstitutionCredential


pytestmark = pytest.mark.django_db


def _row(n: int, **overrides: str) -> dict[str, str]:
    """A valid line for applicant ``n``, with the four claims."""
    row = {
        "reference_dossier": f"IMP-{n:05d}",
        "nom_naissance": "LEFÈVRE",
        "nom_usage": "",
        "prenom_1": "CHLOÉ",
        "prenom_2": "MARIE-ANNE",
        "prenom_3": "",
        "sexe": "F",
        "date_naissance": "15/08/2005",
        "ine": f"{n:09d}VA",
        "courriel": f"chloe{n}@example.org",
        "telephone": "06 12 34 56 78",
        "scolarite_uai": "0132733A",
        "scolarite_annee": "2025-2026",
        "cvec_numero": f"VER1ABCDEF{n % 97:02d}SB",
        "cvec_campagne": "2025",
        "certification_code": "RNCP35185",
        "certification_niveau_min": "5",
        "covoiturage_uuid": "9415300a-7a51-4296-96d1-68636e46485d",
    }
    row.update(overrides)
    return row


def _csv(
    rows: list[dict[str, str]],
    *,
    header: list[str] | tuple[str, ...] = COLUMNS,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode(encoding)


def _errors(report) -> list[tuple[int | None, str, str]]:
    return [(e.line, e.column, e.message) for e in report.errors]


def _table_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.fixture
def institution(clerk):
    return clerk.institution


# --- Template -----------------------------------------------------------------------------------


def test_template_is_utf8_with_bom_semicolons_and_its_example_line_imports_nothing(institution):
    data = import_template_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(";") == list(COLUMNS)
    assert len([line for line in lines if line]) == 2
    report = parse_import(data, institution=institution)
    assert report.encoding == "utf-8"
    assert report.delimiter == ";"
    # Uploaded as it is, the template imports no fictitious applicant: its example line is
    # refused for what it is, and for nothing else (every other cell shows a valid value).
    assert not report.ok
    assert not report.rows
    assert [(issue.line, issue.column) for issue in report.errors] == [(2, "reference_dossier")]
    assert "l'exemple du modèle" in report.errors[0].message


def test_the_template_example_with_a_real_reference_is_a_valid_line(institution):
    example = dict(TEMPLATE_EXAMPLE, reference_dossier="2026-0001")
    report = parse_import(_csv([example]), institution=institution)
    assert report.ok, report.errors
    assert report.claim_counts == dict.fromkeys(ClaimKind.values, 1)


def test_columns_are_french_lowercase_and_documented():
    documented = (Path(__file__).resolve().parents[2] / "docs" / "IMPORTS.md").read_text("utf-8")
    for column in COLUMNS:
        assert column == column.lower()
        assert column.isascii()
        assert f"`{column}`" in documented


# --- Encodings, delimiters, headers ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_each_encoding_and_delimiter(institution, encoding, delimiter):
    data = _csv([_row(1), _row(2)], delimiter=delimiter, encoding=encoding)
    report = parse_import(data, institution=institution)
    assert report.ok, report.errors
    assert report.delimiter == delimiter
    assert report.encoding == ("cp1252" if encoding == "cp1252" else "utf-8")
    first = report.rows[0].identity
    assert first["birth_name"] == "LEFÈVRE"
    assert first["first_names"] == ["CHLOÉ", "MARIE-ANNE"]
    assert report.rows[0].claims[0] == (
        ClaimKind.SCOLARITE,
        {"uai": "0132733A", "school_year": 2025},
    )


def test_bom_is_not_part_of_the_first_header(institution):
    data = _csv([_row(1)], header=["reference_dossier", *COLUMNS[1:]], encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbfreference_dossier")
    assert parse_import(data, institution=institution).ok


def test_a_file_neither_utf8_nor_windows_1252_is_refused(institution):
    data = _csv([_row(1)], encoding="utf-8") + b"\x81\x8d"
    report = parse_import(data, institution=institution)
    assert not report.ok
    ((line, column, message),) = _errors(report)
    assert line is None
    assert column == ""
    assert "ni en UTF-8 ni en Windows-1252" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"PK\x03\x04rest-of-a-zip", "classeur Excel"),
        ("reference_dossier;nom\r\n".encode("utf-16"), "UTF-16"),
        (b"", "vide"),
        (b"\xef\xbb\xbf\r\n;;\r\n", "vide"),
    ],
)
def test_unreadable_or_empty_files_are_refused_clearly(institution, data, expected):
    report = parse_import(data, institution=institution)
    assert not report.ok
    assert expected in report.errors[0].message


def test_headers_match_whatever_the_case_accents_spaces_and_order(institution):
    header = [
        " Date Naissance ",
        "SEXE",
        "Prénom 1",
        "Nom-Naissance",
        "Référence dossier",
        "SCOLARITÉ_UAI",
        "scolarite annee",
    ]
    row = _row(1)
    values = [
        row["date_naissance"],
        row["sexe"],
        row["prenom_1"],
        row["nom_naissance"],
        row["reference_dossier"],
        row["scolarite_uai"],
        row["scolarite_annee"],
    ]
    data = ";".join(header).encode() + b"\r\n" + ";".join(values).encode() + b"\r\n"
    report = parse_import(data, institution=institution)
    assert report.ok, report.errors
    (parsed,) = report.rows
    assert parsed.identity["file_reference"] == "IMP-00001"
    assert parsed.identity["ine"] == ""
    assert parsed.claims == ((ClaimKind.SCOLARITE, {"uai": "0132733A", "school_year": 2025}),)


def test_unknown_repeated_and_missing_columns_are_reported_on_line_1(institution):
    header = ["reference_dossier", "nom_naissance", "Nom_Naissance", "numero_secu", "sexe"]
    report = parse_import(_csv([_row(1)], header=header), institution=institution)
    assert not report.ok
    assert report.rows == []
    errors = _errors(report)
    assert {(line, column) for line, column, _message in errors} == {
        (1, "nom_naissance"),
        (1, "numero_secu"),
        (1, "prenom_1"),
        (1, "date_naissance"),
    }
    messages = " ".join(message for _line, _column, message in errors)
    assert "Colonne inconnue « numero_secu »" in messages
    assert "« nom_naissance » figure deux fois" in messages
    assert "La colonne obligatoire « prenom_1 » est absente" in messages


# --- Row errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "column", "message"),
    [
        ({"reference_dossier": "A B"}, "reference_dossier", "La référence ne peut contenir"),
        ({"nom_naissance": ""}, "nom_naissance", "Ce champ est obligatoire."),
        ({"nom_naissance": "M4RTIN"}, "nom_naissance", "Le nom « M4RTIN » ne peut contenir"),
        ({"nom_usage": "X_Y"}, "nom_usage", "Le nom « X_Y » ne peut contenir"),
        ({"prenom_1": "", "prenom_2": ""}, "prenom_1", "Saisissez au moins un prénom."),
        ({"prenom_2": "J0HN"}, "prenom_2", "Le prénom « J0HN » ne peut contenir"),
        ({"prenom_3": "Pierre, Paul"}, "prenom_3", "Le prénom « Pierre, Paul »"),
        ({"prenom_2": "", "prenom_3": "PAUL"}, "prenom_2", "Ce prénom est vide alors"),
        ({"sexe": "X"}, "sexe", "Le sexe à l'état civil doit être « F » ou « M »."),
        ({"date_naissance": "15 août 2005"}, "date_naissance", "doit s'écrire JJ/MM/AAAA"),
        # Written right, but no such day: named as such, and nothing else on the line.
        ({"date_naissance": "31/02/2006"}, "date_naissance", "La date du 31/02/2006 n'existe"),
        ({"date_naissance": "2005-13-45"}, "date_naissance", "La date du 2005-13-45 n'existe"),
        ({"date_naissance": "01/01/1850"}, "date_naissance", "n'est pas plausible"),
        ({"ine": "123"}, "ine", "L'INE « 123 » doit comporter exactement 11"),
        ({"courriel": "pas-un-courriel"}, "courriel", "adresse électronique valide"),
        ({"telephone": "appelez-moi"}, "telephone", "numéro de téléphone valide"),
        ({"scolarite_uai": "0132733B"}, "scolarite_uai", "la lettre de contrôle devrait être"),
        ({"scolarite_annee": ""}, "scolarite_annee", "Ce champ est obligatoire."),
        ({"scolarite_annee": "2025-2027"}, "scolarite_annee", "deux années qui se suivent"),
        ({"scolarite_uai": ""}, "scolarite_uai", "obligatoire quand scolarite_annee est rempli"),
        ({"cvec_numero": "AB"}, "cvec_numero", "doit comporter de 6 à 40"),
        ({"cvec_campagne": "25"}, "cvec_campagne", "doit s'écrire AAAA ou AAAA-AAAA"),
        ({"cvec_numero": ""}, "cvec_numero", "obligatoire quand cvec_campagne est rempli"),
        ({"certification_code": "XYZ"}, "certification_code", "doit être un code RNCP"),
        ({"certification_niveau_min": "9"}, "certification_niveau_min", "entre 1 et 8"),
        (
            {"certification_code": ""},
            "certification_code",
            "obligatoire quand certification_niveau_min est rempli",
        ),
        ({"covoiturage_uuid": "pas-un-uuid"}, "covoiturage_uuid", "doit être un UUID"),
    ],
)
def test_each_kind_of_row_error_is_reported_with_its_line_and_column(
    institution, overrides, column, message
):
    data = _csv([_row(1), _row(2, **overrides), _row(3)])
    report = parse_import(data, institution=institution)
    assert not report.ok
    ((line, error_column, error_message),) = _errors(report)
    assert (line, error_column) == (3, column)
    assert message in error_message
    assert report.invalid_row_count == 1
    # The valid lines are still cleaned (the preview can show them), but nothing can be imported.
    assert [row.line for row in report.rows] == [2, 4]


def test_a_line_may_carry_no_claim_or_some(institution):
    bare = {c: "" for c in COLUMNS if c.startswith(("scolarite", "cvec", "certification", "cov"))}
    data = _csv(
        [
            _row(1, **bare),
            _row(2, **{**bare, "covoiturage_uuid": "9415300A-7A51-4296-96D1-68636E46485D"}),
            _row(3, cvec_campagne="", certification_niveau_min=""),
        ]
    )
    report = parse_import(data, institution=institution)
    assert report.ok, report.errors
    assert [len(row.claims) for row in report.rows] == [0, 1, 4]
    assert report.rows[1].claims == (
        (ClaimKind.COVOITURAGE, {"uuid": "9415300a-7a51-4296-96d1-68636e46485d"}),
    )
    assert dict(report.rows[2].claims)[ClaimKind.CVEC]["campaign"] is None
    assert report.claim_counts == {"scolarite": 1, "cvec": 1, "certification": 1, "covoiturage": 2}
    assert report.claim_count == 5


def test_several_errors_of_one_line_are_listed_in_column_order(institution):
    data = _csv([_row(1, covoiturage_uuid="x", sexe="?", nom_naissance="")])
    report = parse_import(data, institution=institution)
    assert [(line, column) for line, column, _m in _errors(report)] == [
        (2, "nom_naissance"),
        (2, "sexe"),
        (2, "covoiturage_uuid"),
    ]
    assert report.invalid_row_count == 1


def test_line_numbers_are_the_spreadsheets_blank_and_multiline_records_included(institution):
    """A spreadsheet shows one row per record: a quoted cell spanning two physical lines is
    one row, and a blank row still has its number."""
    header = ";".join(COLUMNS)
    good = ";".join(_row(1).values())
    multiline = ";".join(_row(2, nom_usage='"DE LA\nFONTAINE"', sexe="Y").values())
    bad = ";".join(_row(3, sexe="Z").values())
    text = "\r\n".join([header, good, multiline, "", ";;;", bad]) + "\r\n"
    report = parse_import(text.encode(), institution=institution)
    assert [(line, column) for line, column, _m in _errors(report)] == [
        (3, "sexe"),
        (6, "sexe"),
    ]
    assert report.row_count == 3


def test_a_line_longer_than_the_header_is_an_error_but_trailing_separators_are_not(institution):
    header = ";".join(COLUMNS)
    trailing = ";".join(_row(1).values()) + ";;;"
    longer = ";".join(_row(2).values()) + ";surplus"
    report = parse_import(
        f"{header}\r\n{trailing}\r\n{longer}\r\n".encode(), institution=institution
    )
    ((line, column, message),) = _errors(report)
    assert (line, column) == (3, "")
    assert "19 cellules, l'en-tête 18 colonnes" in message


def test_a_value_under_a_nameless_column_is_an_error(institution):
    header = ["reference_dossier", "", *COLUMNS[1:]]
    row = _row(1)
    line = [row["reference_dossier"], "oublié", *(row[c] for c in COLUMNS[1:])]
    data = (";".join(header) + "\r\n" + ";".join(line) + "\r\n").encode()
    ((line_no, _column, message),) = _errors(parse_import(data, institution=institution))
    assert line_no == 2
    assert "cellule n°2 est remplie mais sa colonne n'a pas de nom" in message


def test_a_line_the_csv_reader_cannot_read_is_reported_with_its_line(institution):
    header = ";".join(COLUMNS)
    good = ";".join(_row(1).values())
    huge = ";".join(_row(2, nom_usage="A" * 200_000).values())  # over csv's field limit
    report = parse_import(f"{header}\r\n{good}\r\n{huge}\r\n".encode(), institution=institution)
    assert not report.ok
    assert report.rows == []
    ((line, column, message),) = _errors(report)
    assert (line, column) == (3, "")
    assert message.startswith("Le fichier n'est pas un CSV lisible à cette ligne")


def test_duplicate_references_in_the_file_name_the_first_line(institution):
    data = _csv([_row(1), _row(2), _row(1, nom_naissance="DURAND")])
    report = parse_import(data, institution=institution)
    assert _errors(report) == [
        (4, "reference_dossier", "La référence « IMP-00001 » figure déjà ligne 2 du fichier.")
    ]
    assert [row.line for row in report.rows] == [2, 3]


def test_existing_references_are_found_with_one_query(institution, django_assert_num_queries):
    ApplicantFactory(institution=institution, file_reference="IMP-00002")
    ApplicantFactory(institution=institution, file_reference="IMP-00040")
    ApplicantFactory(file_reference="IMP-00003")  # another institution's: no conflict
    data = _csv([_row(n) for n in range(1, 51)])
    with django_assert_num_queries(1):
        report = parse_import(data, institution=institution)
    assert _errors(report) == [
        (3, "reference_dossier", "Un dossier porte déjà la référence « IMP-00002 »."),
        (41, "reference_dossier", "Un dossier porte déjà la référence « IMP-00040 »."),
    ]
    assert len(report.rows) == 48


# --- Limits -------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_unread(institution, settings):
    settings.IMPORT_MAX_BYTES = 2 * 1024 * 1024
    data = _csv([_row(1)]) + b" " * (3 * 1024 * 1024)
    report = parse_import(data, institution=institution)
    assert not report.ok
    assert report.rows == []
    assert _errors(report) == [
        (
            None,
            "",
            "Le fichier pèse 3 Mo : la limite est de 2 Mo. Découpez-le en plusieurs fichiers.",
        )
    ]


def test_the_size_limit_has_a_default(institution, settings):
    del settings.IMPORT_MAX_BYTES
    assert imports.import_max_bytes() == 10 * 1024 * 1024
    assert imports.import_max_rows() == 20_000


def test_a_file_over_the_row_limit_is_refused(institution, settings):
    settings.IMPORT_MAX_ROWS = 3
    at_limit = parse_import(_csv([_row(n) for n in range(3)] + [{}] * 5), institution=institution)
    assert at_limit.ok, at_limit.errors  # blank lines do not count
    report = parse_import(_csv([_row(n) for n in range(4)]), institution=institution)
    assert not report.ok
    assert report.rows == []
    ((line, _column, message),) = _errors(report)
    assert line is None
    assert "plus de 3 lignes" in message


def test_a_header_without_lines_is_refused(institution):
    report = parse_import(_csv([]), institution=institution)
    assert _errors(report) == [(None, "", "Le fichier ne contient aucune ligne de candidat.")]


# --- Commit -------------------------------------------------------------------------------------


def test_commit_stores_the_batch_applicants_claims_and_audit_trail(clerk, institution):
    earlier = audit_record(action=AuditAction.VIEWED, actor=clerk, institution=institution)
    bare = {c: "" for c in COLUMNS if c.startswith(("cvec", "certification", "cov"))}
    data = _csv([_row(1), _row(2, **bare), _row(3)])
    report = parse_import(data, institution=institution)
    batch = import_commit(
        acting_user=clerk, report=report, filename="C:\\Users\\agent\\rentrée.csv", ip="192.0.2.7"
    )

    batch.refresh_from_db()
    assert batch.kind == BatchKind.IMPORT
    assert batch.status == BatchStatus.DONE
    assert batch.total == 3
    assert batch.source_filename == "rentrée.csv"
    assert batch.created_by == clerk
    assert batch.finished_at is not None
    assert "rentrée.csv" in batch.label
    assert timezone.localtime(batch.created_at).strftime("%d/%m/%Y") in batch.label

    applicants = list(Applicant.objects.filter(batch=batch).order_by("file_reference"))
    assert [a.file_reference for a in applicants] == ["IMP-00001", "IMP-00002", "IMP-00003"]
    assert {a.created_by_id for a in applicants} == {clerk.pk}
    assert {a.institution_id for a in applicants} == {institution.pk}
    assert applicants[0].first_names == ["CHLOÉ", "MARIE-ANNE"]
    assert applicants[0].birth_date.isoformat() == "2005-08-15"
    claims = Claim.objects.filter(applicant__batch=batch)
    assert claims.count() == 9
    assert set(claims.values_list("institution_id", flat=True)) == {institution.pk}
    assert applicants[1].claims.get().declared == {"uai": "0132733A", "school_year": 2025}

    events = list(AuditEvent.objects.filter(chain=str(institution.pk)).order_by("seq"))
    assert events[0] == earlier
    created = [e for e in events if e.action == AuditAction.CREATED]
    assert sorted(e.applicant_id for e in created) == [a.pk for a in applicants]
    assert {(e.object_type, e.actor_id, e.ip) for e in created} == {
        ("applicant", clerk.pk, "192.0.2.7")
    }
    assert created[1].details == {"batch": batch.pk, "claims": ["scolarite"]}
    (imported,) = [e for e in events if e.action == AuditAction.IMPORTED]
    assert (imported.object_type, imported.object_id) == ("batch", str(batch.pk))
    assert imported.details == {
        "filename": "rentrée.csv",
        "applicants": 3,
        "claims": {"scolarite": 3, "cvec": 2, "certification": 2, "covoiturage": 2},
        "encoding": "utf-8",
    }
    assert "LEFÈVRE" not in str([e.details for e in events])  # no personal data in the trail

    # The chain goes on after the bulk write, and every link holds.
    audit_record(action=AuditAction.VIEWED, actor=clerk, institution=institution)
    (chain,) = audit_chains_verify(str(institution.pk))
    assert chain.length == 1 + 3 + 1 + 1
    assert chain.breaks == []


def test_commit_refuses_a_report_with_errors_and_writes_nothing(clerk, institution):
    report = parse_import(_csv([_row(1), _row(2, sexe="?")]), institution=institution)
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit(acting_user=clerk, report=report, filename="x.csv")
    assert exc.value.code == "invalid"
    assert exc.value.report is report
    assert "rien n'a été importé" in exc.value.message
    assert _table_counts() == before


def test_commit_refuses_another_institutions_report(clerk):
    report = parse_import(_csv([_row(1)]), institution=InstitutionFactory())
    with pytest.raises(PermissionDenied):
        import_commit(acting_user=clerk, report=report, filename="x.csv")
    assert not Applicant.objects.exists()


def test_a_reference_taken_between_preview_and_commit_refuses_everything(clerk, institution):
    report = parse_import(_csv([_row(n) for n in range(1, 6)]), institution=institution)
    assert report.ok
    ApplicantFactory(institution=institution, file_reference="IMP-00004")
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit(acting_user=clerk, report=report, filename="x.csv")
    assert exc.value.code == "reference_taken"
    assert "IMP-00004" in exc.value.message
    assert _table_counts() == before


def test_a_concurrent_insert_caught_by_the_constraint_rolls_everything_back(
    clerk, institution, monkeypatch
):
    """Another transaction commits the same reference after our check: the unique constraint
    stops the bulk insert, and the batch, applicants, claims and events already written in
    the transaction are all rolled back."""
    report = parse_import(_csv([_row(n) for n in range(1, 2500)]), institution=institution)
    assert report.ok
    ApplicantFactory(institution=institution, file_reference="IMP-02400")  # in the 3rd chunk
    monkeypatch.setattr("verifications.imports.commit.existing_references", lambda *a: set())
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit(acting_user=clerk, report=report, filename="x.csv")
    assert exc.value.code == "reference_taken"
    assert "créé pendant l'import" in exc.value.message
    assert _table_counts() == before
    assert all(not chain.breaks for chain in audit_chains_verify())


def test_a_failure_while_writing_the_audit_trail_leaves_nothing(clerk, institution, monkeypatch):
    report = parse_import(_csv([_row(1), _row(2)]), institution=institution)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("verifications.imports.commit.audit_record_many", broken)
    before = _table_counts()
    with pytest.raises(RuntimeError):
        import_commit(acting_user=clerk, report=report, filename="x.csv")
    assert _table_counts() == before


def test_audit_record_many_writes_what_audit_record_would(clerk, institution):
    audit_record(action=AuditAction.VIEWED, actor=clerk, institution=institution)
    events = audit_record_many(
        actor=clerk,
        institution=institution,
        ip="2001:db8:0:0::1",
        entries=[
            AuditEntry(
                action=AuditAction.CREATED,
                object_type="applicant",
                object_id=n,
                applicant_id=n,
                purpose="p" * 300,
                details={"n": n},
            )
            for n in range(5)
        ],
        batch_size=2,
    )
    stored = list(AuditEvent.objects.filter(chain=str(institution.pk), seq__gt=1).order_by("seq"))
    assert [e.seq for e in stored] == [2, 3, 4, 5, 6]
    assert [e.hash for e in stored] == [e.hash for e in events]
    assert stored[0].ip == "2001:db8::1"
    assert stored[0].actor_label == clerk.username
    assert len(stored[0].purpose) == 255
    assert audit_record_many(actor=None, institution=institution, entries=[]) == []
    assert audit_record(action=AuditAction.VIEWED, actor=None, institution=institution).seq == 7
    assert all(not report.breaks for report in audit_chains_verify())


# --- Bulk insert (the fast path of claims and audit events) -------------------------------------


def test_bulk_insert_stores_values_as_the_orm_does(institution):
    applicant = ApplicantFactory(institution=institution)
    now = timezone.now()
    rows = [
        (
            institution.pk,
            applicant.pk,
            kind,
            {"code": f"C{n}", "n": n, "ok": True},
            "",
            "",
            "digest",
            now,
            now,
        )
        for n, kind in enumerate([ClaimKind.CVEC] * 2500)
    ]
    fields = ("institution_id", "applicant_id", "kind", "declared", "verdict", "verdict_reason")
    fields += ("question_digest", "created_at", "updated_at")
    assert bulk_insert(Claim, fields, rows, batch_size=1000) == 2500
    stored = Claim.objects.filter(applicant=applicant).order_by("id")
    assert stored.count() == 2500
    last = stored.last()
    assert last.declared == {"code": "C2499", "n": 2499, "ok": True}
    assert (last.created_at, last.updated_at, last.kind) == (now, now, "cvec")
    assert last.verified_at is None
    # A field that adapts its values (an encrypted one) is adapted, not passed through.
    fields = ("institution_id", "source", "token", "fingerprint", "updated_at")
    bulk_insert(InstitutionCredential, fields, [(institution.pk, "cvec", "secret", "f", now)])
    credential = InstitutionCredential.objects.get(institution=institution)
    assert credential.token == "secret"
    with connection.cursor() as cursor:
        table = InstitutionCredential._meta.db_table
        cursor.execute(f'SELECT token FROM "{table}" WHERE id = %s', [credential.pk])
        (raw,) = cursor.fetchone()
    assert raw != "secret"  # stored encrypted


def test_bulk_insert_raises_djangos_integrity_error(institution):
    event = audit_record(action=AuditAction.VIEWED, actor=None, institution=institution)
    fields = ("institution_id", "chain", "seq", "created_at", "actor_label", "action")
    fields += ("object_type", "object_id", "purpose", "details", "prev_hash", "hash")
    duplicate = (institution.pk, event.chain, event.seq, event.created_at, "x", "viewed")
    duplicate += ("", "", "", {}, event.hash, "f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert(AuditEvent, fields, [duplicate])
    assert AuditEvent.objects.count() == 1


# --- Staging between preview and import -------------------------------------------------------


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_stage_then_load_returns_the_same_bytes(clerk, var_dir):
    data = _csv([_row(1)])
    token = import_stage(acting_user=clerk, data=data, filename="/home/agent/lot 1.csv")
    assert len(token) == 32
    staged = import_load(acting_user=clerk, token=token)
    assert staged.data == data
    assert staged.filename == "lot 1.csv"
    assert staged.user_id == clerk.pk
    for path in (var_dir / "imports").iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_colleague_may_load_it_another_institution_may_not(clerk, var_dir):
    token = import_stage(acting_user=clerk, data=b"x", filename="a.csv")
    colleague = UserFactory(institution=clerk.institution)
    assert import_load(acting_user=colleague, token=token).data == b"x"
    with pytest.raises(StagedImportNotFound):
        import_load(acting_user=UserFactory(), token=token)
    assert import_load(acting_user=clerk, token=token).data == b"x"  # still there


@pytest.mark.parametrize("token", ["", "nope", "../../../etc/passwd", "a" * 31 + "/", "a" * 32])
def test_unknown_or_malformed_tokens_are_not_found(clerk, var_dir, token):
    with pytest.raises(StagedImportNotFound):
        import_load(acting_user=clerk, token=token)


def test_a_staged_file_expires_after_an_hour(clerk, var_dir):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = import_stage(acting_user=clerk, data=b"x", filename="a.csv")
        traveller.shift(3599)
        assert import_load(acting_user=clerk, token=token).data == b"x"
        traveller.shift(2)
        with pytest.raises(StagedImportExpired):
            import_load(acting_user=clerk, token=token)
    assert list((var_dir / "imports").iterdir()) == []  # deleted when found expired


def test_staging_purges_expired_files_and_refuses_oversized_ones(clerk, var_dir, settings):
    settings.IMPORT_MAX_BYTES = 10
    with pytest.raises(ImportRefused) as exc:
        import_stage(acting_user=clerk, data=b"x" * 11, filename="a.csv")
    assert exc.value.code == "too_large"
    old = import_stage(acting_user=clerk, data=b"x", filename="a.csv")
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        assert import_stage_purge() == 1
        fresh = import_stage(acting_user=clerk, data=b"y", filename="b.csv")
        with pytest.raises(StagedImportNotFound):
            import_load(acting_user=clerk, token=old)
        assert import_load(acting_user=clerk, token=fresh).data == b"y"
        import_discard(acting_user=UserFactory(), token=fresh)  # not theirs: ignored
        assert import_load(acting_user=clerk, token=fresh).data == b"y"
        import_discard(acting_user=clerk, token=fresh)
        with pytest.raises(StagedImportNotFound):
            import_load(acting_user=clerk, token=fresh)


def test_import_commit_staged_validates_again_then_forgets_the_file(
    clerk, institution, var_dir, django_capture_on_commit_callbacks
):
    token = import_stage(acting_user=clerk, data=_csv([_row(1), _row(2)]), filename="lot.csv")
    with django_capture_on_commit_callbacks(execute=True):
        batch = import_commit_staged(acting_user=clerk, token=token, ip="192.0.2.1")
    assert batch.total == 2
    assert batch.source_filename == "lot.csv"
    with pytest.raises(StagedImportNotFound):
        import_load(acting_user=clerk, token=token)
    # The same file again: its references now exist, so the second import is refused whole.
    token = import_stage(acting_user=clerk, data=_csv([_row(2), _row(3)]), filename="lot.csv")
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit_staged(acting_user=clerk, token=token)
    assert _errors(exc.value.report) == [
        (2, "reference_dossier", "Un dossier porte déjà la référence « IMP-00002 ».")
    ]
    assert _table_counts() == before
    assert import_load(acting_user=clerk, token=token)  # kept: the clerk may look again


def test_every_message_is_translated_to_english(institution):
    from django.utils import translation

    with translation.override("en"):
        report = parse_import(_csv([_row(1, sexe="?"), _row(1)]), institution=institution)
    messages = [message for _line, _column, message in _errors(report)]
    assert messages
    for message in messages:
        assert "figure déjà" not in message
        assert "doit être" not in message
