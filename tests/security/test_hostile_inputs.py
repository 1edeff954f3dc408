"""Hostile inputs that once answered 500 or were stored as typed (issue 15), and the helpers
that close their kind: ``admissions.infra.integers`` (every integer of a URL, a query string or a
form) and ``admissions.infra.text_input.validate_text`` (NUL, control, bidi and zero-width
characters in free text, forms and import alike)."""

import pytest
from django.urls import reverse

from admissions.infra.integers import ID_MAX, IdConverter, parse_id, parse_int
from admissions.selectors import AuditCursor
from tests.factories import ApplicantFactory, UserFactory


pytestmark = pytest.mark.django_db


# --- Integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["", "²", "1²", "١٢", "1_000", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1", None, "9" * 20],
)
def test_parse_int_reads_ascii_digits_only(raw):
    assert parse_int(raw) is None


def test_parse_int_bounds():
    assert parse_int("0") == 0
    assert parse_int("007") == 7
    assert parse_int(str(ID_MAX)) == ID_MAX
    assert parse_int(str(ID_MAX + 1)) is None
    assert parse_int("5", low=1, high=4) is None
    assert parse_id("0") is None
    assert parse_id("1") == 1


def test_id_converter_refuses_what_no_row_can_have():
    converter = IdConverter()
    assert converter.to_python("12") == 12
    for raw in ("0", str(ID_MAX + 1), "9" * 19):
        with pytest.raises(ValueError, match=raw):
            converter.to_python(raw)


@pytest.mark.parametrize(
    "raw", ["\u00b2.1", "1.\u00b2", "1.99999999999999999999999", "9" * 30 + ".1"]
)
def test_audit_cursor_with_a_superscript_digit_is_no_cursor(raw):
    assert AuditCursor.decode(raw) is None


@pytest.mark.parametrize("apres", ["%C2%B2.1", "1.%C2%B2", "1.99999999999999999999999"])
def test_the_journal_ignores_a_cursor_it_cannot_read(client, apres):
    client.force_login(UserFactory(supervisor=True))
    response = client.get(reverse("audit_list") + f"?apres={apres}")
    assert response.status_code == 200


@pytest.mark.parametrize("batch", ["9999999999999999999999999", "%C2%B2", "-1", "0"])
def test_the_applicant_list_ignores_a_batch_that_cannot_exist(client, batch):
    user = UserFactory()
    ApplicantFactory(institution=user.institution, birth_name="MARTIN")
    client.force_login(user)
    response = client.get(reverse("applicant_list") + f"?batch={batch}")
    assert response.status_code == 200


@pytest.mark.parametrize("applicant_id", ["9999999999999999999999999", str(ID_MAX + 1), "0"])
def test_an_id_past_the_database_range_is_not_found(client, applicant_id):
    client.force_login(UserFactory())
    assert client.get(f"/candidats/{applicant_id}/").status_code == 404
    assert client.get(f"/candidats/{applicant_id}/modifier/").status_code == 404


def test_a_superscript_digit_in_a_certification_level_is_a_form_error():
    from django.core.exceptions import ValidationError

    from verifications.claims import clean_declared

    with pytest.raises(ValidationError) as exc:
        clean_declared("certification", {"code": "RNCP12345", "min_level": "²"})
    assert "min_level" in exc.value.message_dict


# --- Free text ---------------------------------------------------------------------------------

HIDDEN = ["\x00", "\u202e", "\x1b[31m", "\u200b", "\ufeff", "\u2028", "\x7f", "\x85"]


@pytest.mark.parametrize("char", HIDDEN)
def test_validate_text_refuses_hidden_and_control_characters(char):
    from django.core.exceptions import ValidationError

    from admissions.infra.text_input import validate_text

    with pytest.raises(ValidationError) as exc:
        validate_text(f"emma{char}@example.org")
    assert exc.value.code == "hidden_character"
    assert "caractère invisible ou de contrôle" in exc.value.messages[0]
    assert f"U+{ord(char[0]):04X}" in exc.value.messages[0]


def test_validate_text_accepts_what_people_type():
    from admissions.infra.text_input import validate_multiline_text, validate_text

    for text in ("Émilie N'Diaye-Ørsted", "张伟", "Ahmed", "emma+vigie@example.org", "« ok » 🎓"):
        validate_text(text)
    validate_multiline_text("Pièce vue au guichet.\r\nCarte d'étudiant\t2025.")


@pytest.mark.parametrize("char", HIDDEN)
def test_the_applicant_form_refuses_a_hidden_character_in_the_email(char):
    from admissions.forms import ApplicantForm

    form = ApplicantForm(
        {
            "file_reference": "HOST-1",
            "birth_name": "MARTIN",
            "first_name_1": "Emma",
            "sex": "F",
            "birth_date": "2005-08-15",
            "email": f"emma{char}@example.org",
        }
    )
    assert not form.is_valid()
    assert list(form.errors) == ["email"]
    assert "caractère invisible ou de contrôle" in form.errors["email"][0]


@pytest.mark.parametrize("char", HIDDEN)
def test_the_import_refuses_a_hidden_character_in_the_email(char):
    from tests.factories import InstitutionFactory
    from tests.verifications.test_imports import _csv, _row
    from verifications.imports import parse_import

    report = parse_import(
        _csv([_row(1, courriel=f"chloe{char}@example.org"), _row(2)]),
        institution=InstitutionFactory(),
    )
    assert [row.line for row in report.rows] == [3]
    assert [(issue.line, issue.column) for issue in report.errors] == [(2, "courriel")]
    assert "caractère invisible ou de contrôle" in report.errors[0].message


def test_a_nul_in_the_email_column_is_refused_by_the_preview_and_never_stored(client):
    from admissions.models import Applicant
    from tests.verifications.test_import_views import _upload
    from tests.verifications.test_imports import _csv, _row

    client.force_login(UserFactory())
    response = _upload(client, _csv([_row(1, courriel="chloe\x00@example.org")]))
    assert response.status_code == 302
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert 'id="import-confirm"' not in preview.text
    token = preview.request["PATH_INFO"].rstrip("/").rsplit("/", 1)[-1]
    assert client.post(reverse("import_confirm", args=[token])).status_code == 409
    assert not Applicant.objects.exists()


def test_a_hidden_character_in_a_name_is_its_one_error():
    from django.core.exceptions import ValidationError

    from admissions.identity import clean_identity

    with pytest.raises(ValidationError) as exc:
        clean_identity({"birth_name": "MAR\u200bTIN"}, partial=True)
    assert exc.value.message_dict == {
        "birth_name": [
            "Ce texte contient un caractère invisible ou de contrôle (U+200B, position 4) : "
            "retirez-le ou saisissez le texte à nouveau."
        ]
    }


def test_a_hidden_character_in_a_declared_code_is_refused():
    from django.core.exceptions import ValidationError

    from verifications.claims import clean_declared

    with pytest.raises(ValidationError) as exc:
        clean_declared("cvec", {"code": "ABC\u202eDEF123"})
    assert exc.value.error_dict["code"][0].code == "hidden_character"


def _our_form_classes() -> list[type]:
    import importlib
    import pkgutil

    from django import forms

    import admissions
    import verifications

    for package in (admissions, verifications):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" in module.name or module.name.endswith(("wsgi", "asgi")):
                continue
            importlib.import_module(module.name)

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    return sorted(
        {
            cls
            for cls in subclasses(forms.BaseForm)
            if cls.__module__.startswith(("admissions.", "verifications."))
        },
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


def test_every_form_of_ours_checks_its_text():
    """The mechanism: a form added later refuses hidden characters without anyone remembering
    to, as long as it inherits ``PlainTextForm`` (this test says so when it does not)."""
    from admissions.infra.text_input import PlainTextForm

    found = _our_form_classes()
    assert len(found) >= 15
    missing = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in found
        if not issubclass(cls, PlainTextForm)
    ]
    assert not missing, (
        "these forms do not inherit admissions.infra.text_input.PlainTextForm (put it first among "
        f"their bases): {missing}"
    )


# --- What an error report shows ------------------------------------------------------------------


def test_an_upload_of_100000_unknown_columns_gets_a_bounded_refusal(client):
    from tests.verifications.test_import_views import _upload
    from tests.verifications.test_imports import _csv, _row

    client.force_login(UserFactory())
    columns = [f"colonne_{n}" for n in range(100_000)]
    data = _csv([_row(1)], header=["reference_dossier", "nom_naissance", *columns])
    response = _upload(client, data)
    assert response.status_code == 400
    assert len(response.content) < 100_000
    assert "Colonne inconnue « colonne_0 »" in response.text
    assert "Colonne inconnue « colonne_4 »" in response.text
    assert "colonne_5 " not in response.text
    assert "Et 99\u202f995 autres colonnes inconnues." in response.text


def test_a_huge_header_cell_is_quoted_in_part():
    from tests.factories import InstitutionFactory
    from tests.verifications.test_imports import _csv, _row
    from verifications.imports import parse_import

    cell = "x" * 500_000
    report = parse_import(_csv([_row(1)], header=[cell]), institution=InstitutionFactory())
    assert report.errors
    assert all(len(issue.message) <= 300 and len(issue.column) <= 80 for issue in report.errors)


def test_the_preview_of_a_file_of_bad_lines_lists_the_first_errors_and_counts_the_rest(client):
    from tests.verifications.test_import_views import _upload
    from tests.verifications.test_imports import _csv, _row
    from verifications.imports import ISSUES_SHOWN

    client.force_login(UserFactory())
    rows = [_row(n, sexe="X") for n in range(1, ISSUES_SHOWN + 51)]
    response = _upload(client, _csv(rows))
    assert response.status_code == 302
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert preview.text.count("<tr data-line=") == ISSUES_SHOWN
    assert "Et 50 autres erreurs, non affichées" in preview.text


@pytest.mark.parametrize(
    "query", ["date_from=0001-01-01", "date_to=0001-01-01", "date_from=9999-12-31"]
)
def test_a_date_off_the_calendar_in_the_journal_filters_is_a_form_error(client, query):
    client.force_login(UserFactory(supervisor=True))
    response = client.get(reverse("audit_list") + "?" + query)
    assert response.status_code == 200
    assert "Saisissez une date entre le 01/01/2000 et le 31/12/2100." in response.text
    assert client.get(reverse("audit_export", args=["csv"]) + "?" + query).status_code != 500


def test_a_hidden_character_in_a_later_given_name_is_reported_in_its_column():
    from tests.factories import InstitutionFactory
    from tests.verifications.test_imports import _csv, _row
    from verifications.imports import parse_import

    report = parse_import(
        _csv([_row(1, prenom_2="MARIE\x1fANNE")]), institution=InstitutionFactory()
    )
    assert [(issue.line, issue.column) for issue in report.errors] == [(2, "prenom_2")]


@pytest.mark.parametrize(
    ("validator", "value"),
    [
        ("validate_siret", "²" * 14),
        ("validate_siret", "\u0661" * 14),
        ("validate_uai", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667A"),
        ("validate_certification_code", "\u0661\u0662\u0663"),
        ("validate_certification_code", "RNCP\u0661\u0662\u0663"),
        ("parse_school_year", "\u0662\u0660\u0662\u0665"),
    ],
)
def test_identifiers_take_ascii_digits_only(validator, value):
    """A superscript digit passed str.isdigit() and then failed int() (a 500 in the
    back-office's institution form); other scripts' digits passed as identifiers."""
    from django.core.exceptions import ValidationError

    from admissions import validators

    with pytest.raises(ValidationError):
        getattr(validators, validator)(value)
