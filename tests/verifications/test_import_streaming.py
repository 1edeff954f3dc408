"""The import streams its file (issue 18): the report is bounded whatever the file's size,
duplicates and existing references are found across blocks, the file is read from its path or
an open file in chunks, and the import stores block by block in one transaction that a late
problem rolls back whole."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.urls import reverse

from admissions.audit import audit_chains_verify
from admissions.models import Applicant, AuditEvent
from tests.factories import ApplicantFactory
from tests.verifications.test_imports import _csv, _errors, _row, _table_counts
from verifications.imports import (
    ImportRefused,
    import_commit,
    import_commit_staged,
    import_load,
    import_stage,
    parse_import,
)
from verifications.imports.report import ERRORS_KEPT, ROWS_KEPT
from verifications.models import Claim


pytestmark = pytest.mark.django_db


@pytest.fixture
def institution(clerk):
    return clerk.institution


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 3 lines for the preview and the import, so that a small file spans several."""
    monkeypatch.setattr("verifications.imports.parsing.PREVIEW_BLOCK_LINES", 3)
    monkeypatch.setattr("verifications.imports.commit.COMMIT_BLOCK_LINES", 3)


def test_the_report_keeps_the_first_problems_and_rows_and_counts_the_rest(institution):
    rows = [_row(n, sexe="?") if n % 2 else _row(n) for n in range(1, 2 * ERRORS_KEPT + 301)]
    report = parse_import(_csv(rows), institution=institution)
    invalid = ERRORS_KEPT + 150
    assert report.error_count == invalid
    assert report.invalid_row_count == invalid
    assert report.valid_row_count == len(rows) - invalid
    assert len(report.errors) == ERRORS_KEPT
    assert report.hidden_error_count == invalid - ERRORS_KEPT
    # The first ones, by line: lines 2, 4, 6... (odd applicants are on even lines).
    assert [issue.line for issue in report.errors] == list(range(2, 2 * ERRORS_KEPT + 2, 2))
    assert len(report.rows) == ROWS_KEPT
    assert [row.line for row in report.rows[:3]] == [3, 5, 7]
    assert report.claim_counts == dict.fromkeys(
        ("scolarite", "cvec", "certification", "covoiturage"), report.valid_row_count
    )


def test_duplicates_and_existing_references_are_found_across_blocks(
    institution, small_blocks, django_assert_num_queries
):
    ApplicantFactory(institution=institution, file_reference="IMP-00008")
    rows = [_row(n) for n in range(1, 10)] + [_row(2, nom_naissance="DURAND")]
    # One lookup per block of 3 lines: lines 2-4, 5-7, 8-10; line 11, a duplicate, brings no
    # new reference to look up.
    with django_assert_num_queries(3):
        report = parse_import(_csv(rows), institution=institution)
    assert _errors(report) == [
        (9, "reference_dossier", "Un dossier porte déjà la référence « IMP-00008 »."),
        (11, "reference_dossier", "La référence « IMP-00002 » figure déjà ligne 3 du fichier."),
    ]
    assert report.valid_row_count == 8
    assert report.invalid_row_count == 2
    assert report.taken_references == ["IMP-00008"]


def test_a_line_with_a_problem_and_an_existing_reference_counts_once(institution, small_blocks):
    ApplicantFactory(institution=institution, file_reference="IMP-00002")
    report = parse_import(_csv([_row(1), _row(2, sexe="?")]), institution=institution)
    assert [(line, column) for line, column, _message in _errors(report)] == [
        (3, "reference_dossier"),
        (3, "sexe"),
    ]
    assert report.invalid_row_count == 1
    assert report.valid_row_count == 1


def test_bytes_a_path_and_an_open_file_read_the_same(institution, tmp_path, monkeypatch):
    monkeypatch.setattr("verifications.imports.parsing._READ_CHUNK", 64)  # many chunks
    data = _csv([_row(n) for n in range(1, 30)] + [_row(3)], encoding="cp1252")
    path = tmp_path / "lot.csv"
    path.write_bytes(data)
    reports = [
        parse_import(data, institution=institution),
        parse_import(path, institution=institution),
        parse_import(io.BytesIO(data), institution=institution),
    ]
    for report in reports:
        assert report.encoding == "cp1252"
        assert report.valid_row_count == 29
        assert _errors(report) == _errors(reports[0]) != []
        assert report.rows == reports[0].rows


def test_an_unreadable_byte_past_the_first_chunk_is_located_in_the_file(institution, monkeypatch):
    monkeypatch.setattr("verifications.imports.parsing._READ_CHUNK", 100)
    data = _csv([_row(n) for n in range(1, 5)], encoding="cp1252")
    bad = len(data) - 10
    data = data[:bad] + b"\x81" + data[bad + 1 :]  # undefined in Windows-1252, invalid UTF-8
    ((line, _column, message),) = _errors(parse_import(data, institution=institution))
    assert line is None
    assert f"octet illisible à la position {bad + 1}" in message


def test_the_import_stores_block_by_block_in_one_chain(clerk, institution, small_blocks):
    report = parse_import(_csv([_row(n) for n in range(1, 9)]), institution=institution)
    batch = import_commit(acting_user=clerk, report=report, filename="lot.csv")
    assert batch.total == 8
    assert Applicant.objects.filter(batch=batch).count() == 8
    assert Claim.objects.filter(applicant__batch=batch).count() == 32
    actions = list(
        AuditEvent.objects.filter(chain=str(institution.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["created"] * 8 + ["imported"]
    assert all(not chain.breaks for chain in audit_chains_verify())


def test_a_problem_past_the_stored_blocks_leaves_nothing(clerk, institution, small_blocks, var_dir):
    """The staged file is imported without a preview (or changed rules): blocks are stored
    until line 9 is found invalid; the transaction rolls them back."""
    data = _csv([_row(n) for n in range(1, 8)] + [_row(8, date_naissance="31/02/2005")])
    token = import_stage(acting_user=clerk, data=data, filename="lot.csv")
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit_staged(acting_user=clerk, token=token)
    assert exc.value.code == "invalid"
    assert [(line, column) for line, column, _m in _errors(exc.value.report)] == [
        (9, "date_naissance")
    ]
    assert _table_counts() == before


def test_a_reference_taken_in_a_later_block_refuses_everything(
    clerk, institution, small_blocks, var_dir
):
    token = import_stage(
        acting_user=clerk, data=_csv([_row(n) for n in range(1, 8)]), filename="lot.csv"
    )
    ApplicantFactory(institution=institution, file_reference="IMP-00007")
    before = _table_counts()
    with pytest.raises(ImportRefused) as exc:
        import_commit_staged(acting_user=clerk, token=token)
    assert exc.value.code == "reference_taken"
    assert "IMP-00007" in exc.value.message
    assert _table_counts() == before


def test_staging_copies_an_upload_in_chunks_and_refuses_one_too_large(clerk, var_dir, settings):
    data = _csv([_row(n) for n in range(1, 20)])
    upload = TemporaryUploadedFile("lot.csv", "text/csv", len(data), "utf-8")
    upload.write(data)
    token = import_stage(acting_user=clerk, data=upload, filename="lot.csv")
    assert import_load(acting_user=clerk, token=token).path.read_bytes() == data
    settings.IMPORT_MAX_BYTES = len(data) - 1
    staged = set((var_dir / "imports").iterdir())
    with pytest.raises(ImportRefused):
        import_stage(acting_user=clerk, data=upload, filename="lot.csv")
    assert set((var_dir / "imports").iterdir()) == staged  # nothing left behind
    upload.close()


def test_an_upload_written_to_disk_by_django_is_previewed_and_imported(
    clerk_client, institution, settings, var_dir
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # Django writes the upload to a temp file
    data = _csv([_row(n) for n in range(1, 40)])
    response = clerk_client.post(
        reverse("import_upload"), {"file": SimpleUploadedFile("lot.csv", data, "text/csv")}
    )
    assert response.status_code == 302
    preview = clerk_client.get(response["Location"])
    assert 'id="import-confirm"' in preview.text
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    imported = clerk_client.post(reverse("import_confirm", args=[token]))
    assert imported.status_code == 302
    assert Applicant.objects.filter(institution=institution).count() == 39
