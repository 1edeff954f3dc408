"""/api/v1/applicants: create, read, update, list, and claims; validation as the forms'."""

import pytest

from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from api.v1 import API_READ_PURPOSE
from tests.api.conftest import ApiClient, make_key
from tests.factories import ApplicantFactory, ClaimFactory
from verifications.models import Claim


pytestmark = pytest.mark.django_db

IDENTITY = {
    "file_reference": "DOS-2026-001",
    "birth_name": "Lefèvre",
    "first_names": ["Émma", "Paul"],
    "sex": "F",
    "birth_date": "2006-03-15",
    "ine": "1234567890A",
}


def test_create_stores_audits_and_answers_the_applicant(api, key, institution):
    response = api.post("/api/v1/applicants", IDENTITY)
    assert response.status_code == 201, response.content
    body = response.json()
    applicant = Applicant.objects.get(pk=body["id"])
    assert applicant.institution == institution
    assert applicant.first_names == ["Émma", "Paul"]
    assert body["birth_date"] == "2006-03-15"
    assert response["Location"] == f"/api/v1/applicants/{applicant.pk}"
    event = AuditEvent.objects.get(action=AuditAction.CREATED, object_type="applicant")
    assert event.actor == key.api_key.user
    assert event.applicant_id == applicant.pk
    assert event.ip == "127.0.0.1"
    assert applicant.created_by == key.api_key.user


def test_create_refuses_what_the_form_refuses_with_field_paths(api):
    body = {**IDENTITY, "birth_name": "R2D2", "first_names": [], "sex": "X", "ine": "123"}
    response = api.post("/api/v1/applicants", body)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    paths = {e["path"] for e in problem["errors"]}
    assert paths == {"birth_name", "first_names", "sex", "ine"}
    messages = {e["path"]: e["message"] for e in problem["errors"]}
    assert messages["first_names"] == "Saisissez au moins un prénom."
    assert problem["title"] == "Données invalides"
    assert not Applicant.objects.exists()


def test_schema_errors_name_their_path_in_french_or_english(api):
    body = {key: value for key, value in IDENTITY.items() if key != "sex"}
    body["extra"] = 1
    response = api.post("/api/v1/applicants", body)
    assert response.status_code == 422
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors == {"sex": "Ce champ est obligatoire.", "extra": "Ce champ n'est pas attendu."}
    response = api.post("/api/v1/applicants", body, **{"Accept-Language": "en"})
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors["sex"] == "This field is required."
    assert response.json()["title"] == "Invalid data"


def test_a_taken_reference_is_refused(api, institution):
    ApplicantFactory(institution=institution, file_reference="DOS-2026-001")
    response = api.post("/api/v1/applicants", IDENTITY)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "file_reference"


def test_read_by_id_and_by_reference_is_audited_once_per_window(api, key, institution):
    applicant = ApplicantFactory(institution=institution)
    ClaimFactory(applicant=applicant)
    response = api.get(f"/api/v1/applicants/{applicant.pk}")
    assert response.status_code == 200
    assert response.json()["claims"][0]["kind"] == "scolarite"
    response = api.get(f"/api/v1/applicants/by-reference/{applicant.file_reference}")
    assert response.status_code == 200
    assert response.json()["id"] == applicant.pk
    views = AuditEvent.objects.filter(action=AuditAction.VIEWED, applicant_id=applicant.pk)
    assert views.count() == 1
    assert views.get().actor == key.api_key.user
    assert views.get().purpose == API_READ_PURPOSE


def test_update_changes_only_what_is_sent_and_audits_the_fields(api, institution):
    applicant = ApplicantFactory(institution=institution, usage_name="")
    response = api.patch(f"/api/v1/applicants/{applicant.pk}", {"usage_name": "Dupont"})
    assert response.status_code == 200, response.content
    applicant.refresh_from_db()
    assert applicant.usage_name == "Dupont"
    event = AuditEvent.objects.get(action=AuditAction.EDITED)
    assert event.details["fields"] == ["usage_name"]
    response = api.patch(f"/api/v1/applicants/{applicant.pk}", {"birth_date": "31/02/2006"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "path": "birth_date",
            "message": "La date du 31/02/2006 n'existe pas : vérifiez le jour et le mois.",
        }
    ]


def test_claims_create_read_update(api, key, institution):
    applicant = ApplicantFactory(institution=institution)
    url = f"/api/v1/applicants/{applicant.pk}/claims"
    response = api.post(
        url, {"kind": "scolarite", "declared": {"uai": "0132733A", "school_year": 2025}}
    )
    assert response.status_code == 201, response.content
    claim = Claim.objects.get(pk=response.json()["id"])
    assert claim.declared == {"uai": "0132733A", "school_year": 2025}
    assert response["Location"] == f"{url}/{claim.pk}"
    assert AuditEvent.objects.filter(object_type="claim", action=AuditAction.CREATED).count() == 1
    assert api.get(f"{url}/{claim.pk}").json()["declared"]["uai"] == "0132733A"
    assert [c["id"] for c in api.get(url).json()] == [claim.pk]
    response = api.patch(
        f"{url}/{claim.pk}", {"declared": {"uai": "0132733B", "school_year": 2025}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "declared.uai"
    response = api.patch(
        f"{url}/{claim.pk}", {"declared": {"uai": "0750655E", "school_year": "2025-2026"}}
    )
    assert response.status_code == 200, response.content
    claim.refresh_from_db()
    assert claim.declared["uai"] == "0750655E"
    assert AuditEvent.objects.filter(object_type="claim", action=AuditAction.EDITED).count() == 1


def test_claim_with_unexpected_fields_is_refused_as_the_form_would(api, institution):
    applicant = ApplicantFactory(institution=institution)
    response = api.post(
        f"/api/v1/applicants/{applicant.pk}/claims",
        {"kind": "covoiturage", "declared": {"uuid": "not-a-uuid", "colour": "red"}},
    )
    assert response.status_code == 422
    paths = sorted(e["path"] for e in response.json()["errors"])
    assert paths == ["declared", "declared.uuid"]


def test_a_claim_of_another_applicant_is_not_found(api, institution):
    one, two = ApplicantFactory.create_batch(2, institution=institution)
    claim = ClaimFactory(applicant=two)
    response = api.get(f"/api/v1/applicants/{one.pk}/claims/{claim.pk}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_list_filters(api, institution):
    confirmed = ClaimFactory(applicant__institution=institution, verdict="confirmed").applicant
    ClaimFactory(
        applicant__institution=institution,
        kind="cvec",
        declared={"code": "ABCD12345678", "campaign": None},
    )
    plain = ApplicantFactory(institution=institution, file_reference="REF-X")
    ids = lambda response: [a["id"] for a in response.json()["items"]]  # noqa: E731
    assert len(ids(api.get("/api/v1/applicants"))) == 3
    assert ids(api.get("/api/v1/applicants", {"verdict": "confirmed"})) == [confirmed.pk]
    assert ids(api.get("/api/v1/applicants", {"file_reference": "REF-X"})) == [plain.pk]
    assert len(ids(api.get("/api/v1/applicants", {"kind": "cvec"}))) == 1
    response = api.get("/api/v1/applicants", {"kind": "nope"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "kind"
    response = api.get("/api/v1/applicants", {"cursor": "garbage!"})
    assert response.status_code == 422


def test_keys_of_another_institution_see_nothing_of_ours(api, institution):
    from tests.factories import InstitutionFactory, UserFactory

    ApplicantFactory(institution=institution)
    other_admin = UserFactory(institution=InstitutionFactory(), role="institution_admin")
    theirs = ApiClient(make_key(other_admin).secret)
    assert theirs.get("/api/v1/applicants").json()["items"] == []


def test_cursor_pages_see_every_row_once_while_rows_are_inserted_and_changed(api, institution):
    originals = [ApplicantFactory(institution=institution).pk for _ in range(7)]
    seen: list[int] = []
    inserted: list[int] = []
    cursor = ""
    while True:
        body = api.get("/api/v1/applicants", {"limit": 3, "cursor": cursor}).json()
        seen += [a["id"] for a in body["items"]]
        # Between two pages, another system adds an applicant and edits one already listed.
        inserted.append(ApplicantFactory(institution=institution).pk)
        if len(seen) == 3:
            Applicant.objects.get(pk=seen[0]).save()  # auto_now: updated now
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert set(originals) <= set(seen)
    # Nothing is skipped: every row that existed before the last page was read is listed,
    # each once, but the one edited while paging, listed again after its change.
    assert seen.count(seen[0]) == 2
    assert all(seen.count(pk) == 1 for pk in seen if pk != seen[0])
    assert set(inserted[:-1]) <= set(seen)


@pytest.mark.django_db(transaction=True)
def test_cursor_pages_under_concurrent_inserts_from_another_connection(admin):
    import threading

    from django.db import connection

    from tests.factories import ApplicantFactory as Factory

    api = ApiClient(make_key(admin).secret)
    originals = {Factory(institution=admin.institution).pk for _ in range(12)}
    stop = threading.Event()
    inserted: list[int] = []

    def insert() -> None:
        try:
            while not stop.is_set():
                inserted.append(Factory(institution=admin.institution).pk)
        finally:
            connection.close()

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        pages = _all_pages_until(api, originals)
    finally:
        stop.set()
        writer.join()
    seen = [pk for page in pages for pk in page]
    assert len(seen) == len(set(seen)), "a row was listed twice"
    assert originals <= set(seen), "a row that existed before paging was skipped"
    assert inserted, "the writer inserted nothing while the client paged"


def _all_pages_until(api, originals: set[int]) -> list[list[int]]:
    """Pages until every original was listed and a page came back with no cursor, or 200
    pages (the writer keeps inserting, so the list may never end)."""
    pages, cursor = [], ""
    for _ in range(200):
        body = api.get("/api/v1/applicants", {"limit": 5, "cursor": cursor}).json()
        pages.append([a["id"] for a in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None or originals <= {pk for page in pages for pk in page}:
            break
    return pages


def test_updated_since_lists_only_later_changes(api, institution):
    old = ApplicantFactory(institution=institution)
    Applicant.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    new = ApplicantFactory(institution=institution)
    body = api.get("/api/v1/applicants", {"updated_since": "2021-01-01T00:00:00Z"}).json()
    assert [a["id"] for a in body["items"]] == [new.pk]


def test_update_by_reference_including_the_reference_itself(api, institution):
    applicant = ApplicantFactory(institution=institution, file_reference="OLD-1")
    response = api.patch("/api/v1/applicants/by-reference/OLD-1", {"file_reference": "NEW-1"})
    assert response.status_code == 200, response.content
    assert response.json()["file_reference"] == "NEW-1"
    applicant.refresh_from_db()
    assert applicant.file_reference == "NEW-1"
    assert api.get("/api/v1/applicants/by-reference/OLD-1").status_code == 404
