"""Every page of the product, as each role gets it: no id twice (a label's ``for`` or an
``aria-describedby`` would land on another card's field), and every form error flagged on its
field and linked from the page's error summary (tests/form_checks.py).

Generated from the route table of tests/security/test_route_matrix.py, which the URL
configuration itself keeps complete: every route a member gets as a page (GET answering 200)
is read, and every form a member posts empty (answering 200 or 400 with its errors). The
applicant has a card of each claim kind, in states that show every form a card can hold."""

import pytest
from django.test import Client

from admissions.enums import Role
from tests.factories import ClaimFactory, UserFactory
from tests.form_checks import assert_errors_flagged, assert_unique_ids
from tests.security.test_route_matrix import MEMBERS, ROUTES, Tenant, make_tenant, url_for
from verifications.enums import ClaimKind, Verdict


pytestmark = pytest.mark.django_db

ROLE = {
    "clerk": Role.CLERK,
    "supervisor": Role.SUPERVISOR,
    "institution_admin": Role.INSTITUTION_ADMIN,
}


def _routes(method: str, statuses: tuple[int, ...]) -> list[tuple[str, str]]:
    return [
        (name, role)
        for name, entry in sorted(ROUTES.items())
        for role in MEMBERS
        if entry.expect.get(method, {}).get(role) in statuses
    ]


@pytest.fixture
def tenant() -> Tenant:
    tenant = make_tenant()
    for kind, declared, verdict in (
        (ClaimKind.CVEC, {"code": "A1B2C3D4"}, Verdict.NOT_FOUND),
        (ClaimKind.CERTIFICATION, {"code": "RNCP12345"}, Verdict.UNAVAILABLE),
        (
            ClaimKind.COVOITURAGE,
            {"uuid": "9415300a-7a51-4296-96d1-68636e46485d"},
            Verdict.CONTRADICTED,
        ),
    ):
        ClaimFactory(applicant=tenant.applicant, kind=kind, declared=declared, verdict=verdict)
    return tenant


def _client(tenant: Tenant, role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(institution=tenant.institution, role=ROLE[role]))
    return client


# Forms whose errors come back inline, in the part of the page they belong to, with no summary
# above the page: a claim card's forms (the card is their context; tests/verifications/
# test_card_forms.py checks the field in error is focused).
INLINE_ERRORS = {"claim_manual", "claim_override", "claim_variants"}


def _check(response, where: str, *, summary: bool = False) -> None:
    if not response.headers.get("Content-Type", "").startswith("text/html"):
        return
    html = response.content.decode()
    assert_unique_ids(html, where)
    assert_errors_flagged(html, where)
    if summary and 'class="field-errors"' in html and "<main" in html:
        assert 'id="error-summary"' in html, f"{where}: field errors and no error summary"


@pytest.mark.parametrize(("name", "role"), _routes("GET", (200,)))
def test_each_page_has_unique_ids_and_flagged_errors(tenant, name, role):
    url = url_for(name, ROUTES[name], tenant)
    response = _client(tenant, role).get(url)
    assert response.status_code == 200
    _check(response, f"GET {url} as {role}")


@pytest.mark.parametrize(("name", "role"), _routes("POST", (200, 400)))
def test_each_form_sent_empty_comes_back_with_unique_ids_and_flagged_errors(tenant, name, role):
    url = url_for(name, ROUTES[name], tenant)
    response = _client(tenant, role).post(url, {})
    assert response.status_code in (200, 400)
    _check(response, f"POST {url} as {role}", summary=name not in INLINE_ERRORS)
