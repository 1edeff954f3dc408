"""Tenant isolation and scopes on every operation of the API, generated from the URL
configuration (the routes of the ``api-v1`` namespace, which tests/security/test_route_matrix.py
leaves to this file).

``test_every_api_route_is_in_the_table``: each route of the API has an entry in ``API_ROUTES``
saying how to build its URL from one institution's objects, the methods it answers and the
scope each needs; a new route without one fails. For each entry and method:

* a key of *another* institution, holding every scope, gets 404 for our objects, the very
  answer (status and body) an unknown id gets, and writes nothing there;
* a key without the method's scope gets 403, a request without a key 401; all are
  ``application/problem+json``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from admissions.enums import Role
from admissions.models import AuditEvent
from tests.api.conftest import ApiClient, make_key
from tests.factories import UserFactory
from tests.security.test_route_matrix import Tenant, make_tenant
from verifications.enums import RequestState, Source, Trigger
from verifications.models import VerificationRequest


pytestmark = pytest.mark.django_db

UNKNOWN = 987654321


@dataclass(frozen=True)
class ApiRoute:
    kwargs: Callable[[Tenant], dict[str, Any]] | None
    # method -> (scope needed, body sent)
    methods: dict[str, tuple[str, dict[str, Any] | None]]


def _applicant(t: Tenant) -> dict[str, Any]:
    return {"applicant_id": t.applicant.pk}


def _reference(t: Tenant) -> dict[str, Any]:
    return {"file_reference": t.applicant.file_reference}


def _claim(t: Tenant) -> dict[str, Any]:
    return {"applicant_id": t.applicant.pk, "claim_id": t.claim.pk}


def _verification(t: Tenant) -> dict[str, Any]:
    found = VerificationRequest.objects.filter(claim=t.claim).first()
    if found is None:
        found = VerificationRequest.objects.create(
            institution=t.institution,
            claim=t.claim,
            source=Source.API_PARTICULIER,
            trigger=Trigger.MANUAL,
            state=RequestState.DONE,
            verdict="confirmed",
            evidence={"est_scolarise": True},
        )
    return {"verification_id": found.pk}


def _batch(t: Tenant) -> dict[str, Any]:
    return {"batch_id": t.extra["verification_batch"].pk}


_NEW_CLAIM = {"kind": "covoiturage", "declared": {"uuid": "0f0e0d0c-0b0a-4908-8706-050403020100"}}

API_ROUTES: dict[str, ApiRoute] = {
    "applicants": ApiRoute(
        None,
        {
            "GET": ("read", None),
            "POST": (
                "write",
                {
                    "file_reference": "X",
                    "birth_name": "A",
                    "first_names": ["B"],
                    "sex": "F",
                    "birth_date": "2006-01-01",
                },
            ),
        },
    ),
    "applicant": ApiRoute(
        _applicant, {"GET": ("read", None), "PATCH": ("write", {"usage_name": "Autre"})}
    ),
    "applicant_by_reference": ApiRoute(
        _reference, {"GET": ("read", None), "PATCH": ("write", {"usage_name": "Autre"})}
    ),
    "applicant_claims": ApiRoute(
        _applicant, {"GET": ("read", None), "POST": ("write", _NEW_CLAIM)}
    ),
    "claim": ApiRoute(
        _claim,
        {
            "GET": ("read", None),
            "PATCH": ("write", {"declared": {"uai": "0750655E", "school_year": 2025}}),
        },
    ),
    "claim_verifications": ApiRoute(_claim, {"GET": ("read", None), "POST": ("verify", None)}),
    "applicant_verifications": ApiRoute(_applicant, {"POST": ("verify", None)}),
    "verification": ApiRoute(_verification, {"GET": ("read", None)}),
    "verification_evidence": ApiRoute(_verification, {"GET": ("evidence", None)}),
    "batches": ApiRoute(None, {"POST": ("verify", {"claim_ids": [1]})}),
    "batch": ApiRoute(_batch, {"GET": ("read", None)}),
    "batch_results": ApiRoute(_batch, {"GET": ("read", None)}),
    "audit_events": ApiRoute(None, {"GET": ("read", None)}),
}
# Not objects of an institution: the document describing the API.
NOT_TENANT = {
    "openapi-json": "the OpenAPI document: public, holds no data (tests/api/test_docs.py)",
    "api-root": "ninja's root, /api/v1/: always 404 (problem+json), holds no data",
}


def api_route_names() -> set[str]:
    def walk(patterns: list, namespace: str = "") -> set[str]:
        found: set[str] = set()
        for entry in patterns:
            if isinstance(entry, URLResolver):
                found |= walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace == "api-v1" and entry.name:
                found.add(entry.name)
        return found

    return walk(get_resolver().url_patterns)


def test_every_api_route_is_in_the_table():
    names = api_route_names()
    assert "applicant" in names
    missing = names - set(API_ROUTES) - set(NOT_TENANT)
    assert not missing, f"add an entry to API_ROUTES for {sorted(missing)}"
    assert not set(API_ROUTES) - names, "API_ROUTES names routes the API no longer has"


def _send(client: ApiClient, method: str, url: str, body: dict | None):
    if method == "GET":
        return client.get(url)
    if method == "PATCH":
        return client.patch(url, body)
    return client.post(url, body)


def _cases(*, ids_only: bool = False) -> list[tuple[str, str]]:
    """(route, method) pairs; ``ids_only``: those whose URL names an institution's objects
    (the others are scoped by the key's institution alone: tests/api/test_applicants.py)."""
    return [
        (name, method)
        for name, entry in API_ROUTES.items()
        for method in entry.methods
        if entry.kwargs is not None or not ids_only
    ]


@pytest.mark.parametrize(("name", "method"), _cases(ids_only=True))
def test_another_institutions_objects_are_not_found(name, method):
    entry = API_ROUTES[name]
    assert entry.kwargs is not None
    ours, theirs = make_tenant(), make_tenant()
    admin = UserFactory(institution=ours.institution, role=Role.INSTITUTION_ADMIN)
    client = ApiClient(make_key(admin).secret)
    _scope, body = entry.methods[method]
    before = AuditEvent.objects.filter(institution=theirs.institution).count()
    foreign = _send(client, method, reverse(f"api-v1:{name}", kwargs=entry.kwargs(theirs)), body)
    unknown_kwargs = {
        k: (UNKNOWN if k.endswith("_id") else "INCONNU") for k in entry.kwargs(theirs)
    }
    unknown = _send(client, method, reverse(f"api-v1:{name}", kwargs=unknown_kwargs), body)
    assert foreign.status_code == 404
    assert foreign["Content-Type"] == "application/problem+json"
    assert foreign.content == unknown.content
    assert AuditEvent.objects.filter(institution=theirs.institution).count() == before
    # Our own objects, for contrast: the same request reaches them.
    own = _send(client, method, reverse(f"api-v1:{name}", kwargs=entry.kwargs(ours)), body)
    assert own.status_code in (200, 201, 202), own.content


@pytest.mark.parametrize(("name", "method"), _cases())
def test_scopes_and_keys_are_required(name, method):
    entry = API_ROUTES[name]
    tenant = make_tenant()
    admin = UserFactory(institution=tenant.institution, role=Role.INSTITUTION_ADMIN)
    scope, body = entry.methods[method]
    others = [s for s in ("read", "write", "verify", "evidence") if s != scope]
    url = reverse(f"api-v1:{name}", kwargs=entry.kwargs(tenant) if entry.kwargs else None)
    without = _send(ApiClient(make_key(admin, scopes=others).secret), method, url, body)
    assert without.status_code == 403, without.content
    assert without["Content-Type"] == "application/problem+json"
    anonymous = _send(ApiClient("nope"), method, url, body)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
