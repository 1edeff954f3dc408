"""The door: keys (401, 403, last use), problem+json for every error, idempotency, rate."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from admissions.models import Applicant, AuditEvent, User
from api.models import ApiKey, IdempotentAnswer
from api.services import api_key_revoke
from tests.api.conftest import ApiClient, make_key
from tests.api.test_applicants import IDENTITY


pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:vigie:api:problem:")
    assert body["title"]
    return body


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer vgk_000000000000_" + "a" * 43],
)
def test_missing_malformed_or_unknown_keys_answer_401(header):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    body = _problem(client.get("/api/v1/applicants"), 401)
    assert "clé" in body["detail"]


def test_revoked_and_expired_keys_answer_401(admin, key, api):
    expired = make_key(admin, name="ancienne")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now())
    assert _problem(ApiClient(expired.secret).get("/api/v1/applicants"), 401)["detail"] == (
        "Cette clé d'API a expiré."
    )
    assert api.get("/api/v1/applicants").status_code == 200
    api_key_revoke(acting_user=admin, api_key=key.api_key)
    assert _problem(api.get("/api/v1/applicants"), 401)["detail"] == (
        "Cette clé d'API a été révoquée."
    )
    assert not User.objects.get(pk=key.api_key.user_id).is_active


def test_a_missing_scope_answers_403(admin):
    reader = ApiClient(make_key(admin, scopes=["read"]).secret)
    assert reader.get("/api/v1/applicants").status_code == 200
    body = _problem(reader.post("/api/v1/applicants", IDENTITY), 403)
    assert "write" in body["detail"]
    assert not Applicant.objects.exists()
    writer = ApiClient(make_key(admin, scopes=["write"]).secret)
    _problem(writer.get("/api/v1/applicants"), 403)


def test_last_use_is_recorded_at_most_once_a_minute(key, api):
    api.get("/api/v1/applicants")
    first = ApiKey.objects.get(pk=key.api_key.pk)
    assert first.last_used_from == "127.0.0.1"
    assert first.last_used_at is not None
    api.get("/api/v1/applicants")
    assert ApiKey.objects.get(pk=key.api_key.pk).last_used_at == first.last_used_at
    ApiKey.objects.filter(pk=key.api_key.pk).update(
        last_used_at=first.last_used_at - dt.timedelta(minutes=2)
    )
    api.get("/api/v1/applicants")
    assert ApiKey.objects.get(pk=key.api_key.pk).last_used_at > first.last_used_at


def test_the_service_account_cannot_sign_in_and_names_the_key(key):
    user = key.api_key.user
    assert not user.has_usable_password()
    assert user.get_full_name() == "clé API « SI scolarité »"
    client = Client()
    response = client.post("/connexion/", {"username": user.username, "password": ""})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_every_error_is_a_problem_never_an_html_page(api, settings):
    _problem(api.get("/api/v1/nowhere"), 404)
    _problem(api.get("/api/v1/applicants/99999999999999999999999"), 404)
    _problem(api.get("/api/v1/applicants/abc"), 404)
    body = _problem(api.client.delete("/api/v1/applicants"), 405)
    assert body["title"] == "Méthode non autorisée"
    _problem(
        api.client.post(
            "/api/v1/applicants", "a=b", content_type="application/x-www-form-urlencoded"
        ),
        415,
    )
    settings.VIGIE_API_MAX_BODY_BYTES = 10
    _problem(api.post("/api/v1/applicants", IDENTITY), 413)
    settings.VIGIE_API_MAX_BODY_BYTES = 1024 * 1024
    body = _problem(
        api.client.post("/api/v1/applicants", "{not json", content_type="application/json"), 400
    )
    assert body["detail"] == "Le corps de la requête n'est pas un document JSON valide."


def test_english_on_request(api):
    response = api.get("/api/v1/nowhere", **{"Accept-Language": "en"})
    assert _problem(response, 404)["title"] == "Not found"


# --- Idempotency ---------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(api):
    first = api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    assert first.status_code == 201
    again = api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Applicant.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="applicant").count() == 1


def test_same_key_another_body_is_a_conflict(api):
    api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    other = {**IDENTITY, "file_reference": "DOS-2"}
    body = _problem(api.post("/api/v1/applicants", other, **{"Idempotency-Key": "abc"}), 409)
    assert body["type"].endswith("idempotency-key-reused")
    assert Applicant.objects.count() == 1


def test_idempotency_keys_belong_to_their_api_key(admin, api):
    api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    other = ApiClient(make_key(admin, name="autre").secret)
    response = other.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    # Not a replay of the first key's answer: its own run, refused for the taken reference.
    assert response.status_code == 422
    assert "Idempotent-Replayed" not in response


def test_an_old_answer_is_forgotten_after_a_day(api):
    api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    IdempotentAnswer.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    response = api.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "abc"})
    assert response.status_code == 422  # ran again: the reference is taken now


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_write_once(admin):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): row locks on the unique constraint")
    secret = make_key(admin).secret
    barrier = threading.Barrier(2)
    results: list[int] = []

    def send() -> None:
        client = ApiClient(secret)
        barrier.wait()
        try:
            response = client.post("/api/v1/applicants", IDENTITY, **{"Idempotency-Key": "race"})
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Applicant.objects.count() == 1
    assert sorted(results) in ([201, 201], [201, 409])
    assert AuditEvent.objects.filter(object_type="applicant").count() == 1


# --- Rate limit ----------------------------------------------------------------------------


def test_rate_limit_headers_and_429(api, settings):
    settings.VIGIE_API_RATE_LIMIT = 2
    first = api.get("/api/v1/applicants")
    assert first["RateLimit-Limit"] == "2"
    assert first["RateLimit-Remaining"] == "1"
    assert 1 <= int(first["RateLimit-Reset"]) <= 60
    assert api.get("/api/v1/applicants")["RateLimit-Remaining"] == "0"
    refused = api.get("/api/v1/applicants")
    _problem(refused, 429)
    assert refused["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_writes_need_no_csrf_token_a_key_is_not_a_cookie(key):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    response = client.post("/api/v1/applicants", IDENTITY, content_type="application/json")
    assert response.status_code == 201, response.content


def test_a_session_cookie_alone_opens_nothing(admin):
    client = Client()
    client.force_login(admin)
    _problem(client.get("/api/v1/applicants"), 401)
