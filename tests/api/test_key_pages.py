"""The institution admin's API keys page: list, create (shown once), revoke; audited."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from admissions.enums import AuditAction, Role
from admissions.models import AuditEvent, User
from admissions.selectors import audit_actor_choices
from api.keys import key_digest
from api.models import ApiKey
from tests.api.conftest import ApiClient, make_key
from tests.factories import UserFactory


pytestmark = pytest.mark.django_db


@pytest.fixture
def page(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_create_shows_the_key_once_and_stores_only_its_digest(page, admin):
    response = page.post(
        "/etablissement/cles-api/",
        {
            "name": "SI scolarité",
            "scopes": ["read", "write"],
            "expires_on": (timezone.localdate() + dt.timedelta(days=300)).isoformat(),
        },
    )
    assert response.status_code == 200
    secret = re.search(r'value="(vgk_[0-9a-f]{12}_[A-Za-z0-9_-]{43})"', response.content.decode())
    assert secret
    key = ApiKey.objects.get()
    assert key.secret_hash == key_digest(secret.group(1))
    assert secret.group(1) not in str(ApiKey.objects.values().get())
    assert key.scopes == ["read", "write"]
    assert key.created_by == admin
    event = AuditEvent.objects.get(action=AuditAction.CREATED, object_type="apikey")
    assert event.actor == admin
    assert event.details["prefix"] == key.prefix
    # Shown once: the list shows the prefix, never the secret again.
    listing = page.get("/etablissement/cles-api/").content.decode()
    assert key.prefix in listing
    assert secret.group(1) not in listing
    assert ApiClient(secret.group(1)).get("/api/v1/applicants").status_code == 200


def test_an_empty_form_comes_back_with_its_errors(page):
    response = page.post("/etablissement/cles-api/", {"expires_on": "2000-01-01"})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()
    html = response.content.decode()
    assert "Ce champ est obligatoire." in html
    assert "La date d&#x27;expiration doit être dans le futur." in html


def test_revoke_asks_then_revokes_and_audits(page, admin):
    created = make_key(admin)
    url = f"/etablissement/cles-api/{created.api_key.pk}/revoquer/"
    assert "Révoquer la clé" in page.get(url).content.decode()
    assert ApiKey.objects.get().revoked_at is None
    response = page.post(url)
    assert response.status_code == 302
    key = ApiKey.objects.get()
    assert key.revoked_at is not None
    assert key.revoked_by == admin
    event = AuditEvent.objects.get(action=AuditAction.EDITED, object_type="apikey")
    assert event.details == {"prefix": key.prefix, "change": "revoked"}
    assert ApiClient(created.secret).get("/api/v1/applicants").status_code == 401
    assert "Révoquée le" in page.get("/etablissement/cles-api/").content.decode()


@pytest.mark.parametrize("role", [Role.CLERK, Role.SUPERVISOR])
def test_only_institution_admins_manage_keys(institution, admin, role):
    created = make_key(admin)
    client = Client()
    client.force_login(UserFactory(institution=institution, role=role))
    assert client.get("/etablissement/cles-api/").status_code == 403
    assert client.post(f"/etablissement/cles-api/{created.api_key.pk}/revoquer/").status_code == 403
    assert ApiKey.objects.get().revoked_at is None


def test_the_journal_names_the_key(admin, key):
    api = ApiClient(key.secret)
    api.post(
        "/api/v1/applicants",
        {
            "file_reference": "R1",
            "birth_name": "Martin",
            "first_names": ["Emma"],
            "sex": "F",
            "birth_date": "2006-01-01",
        },
    )
    page = Client()
    page.force_login(admin)
    html = page.get("/journal/").content.decode()
    assert "clé API « SI scolarité »" in html
    choices = dict(audit_actor_choices(admin))
    assert choices[key.api_key.user_id] == "clé API « SI scolarité »"


def test_a_service_account_cannot_sign_in_even_with_a_password_set(key):
    user = User.objects.get(pk=key.api_key.user_id)
    assert user.is_api_key
    assert not user.is_supervisor
    client = Client()
    response = client.post("/connexion/", {"username": user.username, "password": "x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
