import datetime as dt
from collections.abc import Iterable

import pytest
from django.test import Client
from django.utils import timezone

from admissions.enums import Role
from api.services import CreatedKey, api_key_create
from tests.factories import InstitutionFactory, UserFactory


ALL_SCOPES = ("read", "write", "verify", "evidence")


def make_key(
    admin, *, name: str = "SI scolarité", scopes: Iterable[str] = ALL_SCOPES, days: int = 30
) -> CreatedKey:
    return api_key_create(
        acting_user=admin,
        name=name,
        scopes=scopes,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )


class ApiClient:
    """The test client with a key in every request's Authorization header."""

    def __init__(self, secret: str, **defaults: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", **defaults)

    def get(self, path: str, data=None, **headers):
        return self.client.get(path, data, headers=headers)

    def post(self, path: str, body=None, **headers):
        return self.client.post(path, body, content_type="application/json", headers=headers)

    def patch(self, path: str, body=None, **headers):
        return self.client.patch(path, body, content_type="application/json", headers=headers)


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def admin(institution):
    return UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN)


@pytest.fixture
def key(admin) -> CreatedKey:
    return make_key(admin)


@pytest.fixture
def api(key) -> ApiClient:
    return ApiClient(key.secret)
