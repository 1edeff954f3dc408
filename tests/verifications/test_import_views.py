"""The CSV import pages: template download, upload, refusal, preview, import, cancel."""

import time

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from tests.factories import UserFactory
from tests.html import region
from tests.verifications.test_imports import _csv, _row
from verifications.enums import BatchKind
from verifications.imports import COLUMNS, import_stage
from verifications.models import Batch, Claim


pytestmark = pytest.mark.django_db


def _staged_files() -> list[str]:
    directory = django_settings.VAR_DIR / "imports"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def _table_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def _upload(client, data: bytes, name: str = "candidats.csv"):
    return client.post(
        reverse("import_upload"), {"file": SimpleUploadedFile(name, data, "text/csv")}
    )


def test_template_download(clerk_client):
    response = clerk_client.get(reverse("import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf" + ";".join(COLUMNS).encode())


def test_the_template_uploaded_as_it_is_is_not_offered_for_import(clerk_client):
    template = clerk_client.get(reverse("import_template")).content
    preview = clerk_client.get(_upload(clerk_client, template)["Location"])
    assert preview.status_code == 200
    assert "l&#x27;exemple du modèle (EXEMPLE-0001)" in preview.text
    assert 'id="import-confirm"' not in preview.text
    token = preview.request["PATH_INFO"].rstrip("/").rsplit("/", 1)[-1]
    refused = clerk_client.post(reverse("import_confirm", args=[token]))
    assert refused.status_code == 409
    assert not Applicant.objects.exists()


def test_upload_page_explains_the_file(clerk_client):
    page = clerk_client.get(reverse("import_upload")).text
    assert 'type="file"' in page
    assert 'for="id_file"' in page
    assert "reference_dossier" in page
    assert reverse("import_template") in page


def test_valid_file_preview_then_import_all(
    clerk, clerk_client, django_capture_on_commit_callbacks
):
    rows = [_row(n) for n in range(1, 13)]
    response = _upload(clerk_client, _csv(rows, delimiter=",", encoding="cp1252"))
    assert response.status_code == 302
    preview_url = response["Location"]
    token = preview_url.rstrip("/").rsplit("/", 1)[-1]
    assert not Applicant.objects.exists()  # nothing stored before "Importer"

    page = clerk_client.get(preview_url)
    assert page["Cache-Control"] == "no-store"
    text = page.text
    assert "Windows-1252" in text
    assert '<dd id="import-row-count">12</dd>' in text
    assert '<dd id="import-invalid-count">0</dd>' in text
    assert "12 candidats seront importés" in text
    assert text.count("IMP-0") == 10  # a sample of the valid lines
    assert 'id="import-confirm"' in text

    with django_capture_on_commit_callbacks(execute=True):
        response = clerk_client.post(reverse("import_confirm", args=[token]))
    batch = Batch.objects.get()
    assert batch.kind == BatchKind.IMPORT
    assert response.status_code == 302
    assert response["Location"] == reverse("applicant_list") + f"?batch={batch.pk}"
    assert Applicant.objects.filter(batch=batch).count() == 12
    assert Claim.objects.count() == 12 * 4
    assert AuditEvent.objects.filter(action=AuditAction.IMPORTED, actor=clerk).count() == 1
    assert _staged_files() == []  # forgotten after the import
    listing = clerk_client.get(response["Location"]).text
    assert "12 candidats" in listing
    assert batch.label in listing


def test_preview_names_every_bad_line_and_column_and_import_is_refused(clerk_client):
    rows = [_row(n) for n in range(1, 51)]
    rows[9]["date_naissance"] = "31/02/2005"  # line 11
    rows[29]["scolarite_uai"] = "0132733B"  # line 31: wrong check letter
    response = _upload(clerk_client, _csv(rows))
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    text = clerk_client.get(response["Location"]).text
    assert '<dd id="import-invalid-count">2</dd>' in text
    assert '<dd id="import-valid-count">48</dd>' in text
    assert '<tr data-line="11"><td class="num">11</td><td><code>date_naissance</code>' in text
    assert '<tr data-line="31"><td class="num">31</td><td><code>scolarite_uai</code>' in text
    assert 'id="import-confirm"' not in text  # only the corrected file may be imported
    before = _table_counts()
    response = clerk_client.post(reverse("import_confirm", args=[token]))
    assert response.status_code == 409
    assert "rien n&#x27;a été importé" in response.text
    assert _table_counts() == before


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "Le fichier est vide."),
        ("reference_dossier;nom_naissance\r\n".encode("utf-16"), "UTF-8"),
        (b"PK\x03\x04 an xlsx file", "Excel"),
        (_csv([_row(1)], header=[c for c in COLUMNS if c != "sexe"]), "sexe"),
        (_csv([]), "aucune ligne"),
    ],
    ids=["empty", "utf16", "xlsx", "missing-column", "header-only"],
)
def test_a_refused_file_says_why_and_changes_nothing(clerk_client, data, expected):
    before = _table_counts()
    response = _upload(clerk_client, data)
    assert response.status_code == 400
    assert 'id="import-refusal"' in response.text
    assert "Fichier refusé : rien n'a été importé." in response.text
    assert expected in response.text
    assert _table_counts() == before
    assert _staged_files() == []


def test_a_file_over_the_size_limit_is_refused_unread(clerk_client, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    before = _table_counts()
    response = _upload(clerk_client, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 400
    assert "dépasse la taille maximale de 1 Mo" in response.text
    assert _table_counts() == before
    assert _staged_files() == []


def test_no_file_is_a_form_error(clerk_client):
    response = clerk_client.post(reverse("import_upload"), {})
    assert response.status_code == 400
    assert "field-errors" in response.text


def test_cancel_forgets_the_staged_file(clerk_client):
    response = _upload(clerk_client, _csv([_row(1)]))
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert _staged_files()
    response = clerk_client.post(reverse("import_cancel", args=[token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("import_upload")
    assert _staged_files() == []
    assert clerk_client.get(reverse("import_preview", args=[token])).status_code == 404
    assert not Applicant.objects.exists()


def test_an_expired_staged_file_sends_back_to_the_upload(clerk, clerk_client, settings):
    token = import_stage(acting_user=clerk, data=_csv([_row(1)]), filename="a.csv")
    settings.IMPORT_STAGE_TTL = 0
    time.sleep(0.01)
    response = clerk_client.get(reverse("import_preview", args=[token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("import_upload")
    page = clerk_client.get(response["Location"]).text
    assert "a expiré" in page


def test_another_institutions_staged_file_answers_404(clerk_client):
    stranger = UserFactory()
    token = import_stage(acting_user=stranger, data=_csv([_row(1)]), filename="a.csv")
    assert clerk_client.get(reverse("import_preview", args=[token])).status_code == 404
    assert clerk_client.post(reverse("import_confirm", args=[token])).status_code == 404
    assert clerk_client.post(reverse("import_cancel", args=[token])).status_code == 404
    assert len(_staged_files()) == 2  # still there for its owner
    assert not Applicant.objects.exists()
    for bad in ("x" * 32, "not-a-token"):
        assert clerk_client.get(reverse("import_preview", args=[bad])).status_code == 404


def test_import_pages_need_an_institution_member(client):
    urls = [reverse("import_template"), reverse("import_upload")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    client.force_login(UserFactory(backoffice=True))
    for url in urls:
        assert client.get(url).status_code == 403


def test_the_list_links_to_the_import(clerk_client):
    assert reverse("import_upload") in clerk_client.get(reverse("applicant_list")).text


def test_a_nul_in_a_file_reference_is_that_lines_error_not_a_500(clerk_client):
    """Found by the generated no-500 test on PostgreSQL: the check for references already taken
    sent the NUL to the database, which refuses it even as a query parameter."""
    data = (
        b"reference_dossier;nom_naissance;prenom_1;sexe;date_naissance\r\n"
        b"REF\x00-1;MARTIN;EMMA;F;15/08/2005\r\n"
    )
    response = _upload(clerk_client, data)
    assert response.status_code == 302  # to the preview, which lists the line's error
    preview = clerk_client.get(response["Location"])
    assert preview.status_code == 200
    error = region(preview.text, "import-errors")
    assert "reference_dossier" in error
    assert "caractère invisible ou de contrôle (U+0000, position 4)" in error
