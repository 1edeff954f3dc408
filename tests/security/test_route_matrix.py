"""Permissions and tenant isolation on every route, generated from the URL configuration.

``test_every_route_is_in_the_table`` walks ``get_resolver()``: each route of ours (the Django
admin and i18n views aside, listed in ``SKIPPED``) must have an entry in ``ROUTES`` saying what
each role gets for each method and how to build its URL from one institution's objects. A new
route without an entry fails with a message saying to add it, so it is covered from day one.

For each entry:
* ``test_roles``: anonymous, clerk, supervisor, institution admin and back-office staff (no
  institution) get the declared status (``LOGIN`` = a redirect to the login page: 302, or
  ``HX-Redirect`` for htmx), for a plain request and, for GET, an htmx one; every response
  carries the security headers (strict CSP with frame-ancestors 'none', nosniff,
  Referrer-Policy, X-Frame-Options) and ``Cache-Control: no-store``.
* ``test_other_institutions_objects_are_not_found``: the URL built from *another*
  institution's objects answers 404 to every member of ours (403 where the role is refused
  anyway), and changes nothing there (no audit event in its chain).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from admissions.enums import Role
from admissions.models import AuditEvent, Institution
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from verifications.enums import BatchKind, ClaimKind
from verifications.models import Batch


pytestmark = pytest.mark.django_db

ANON, CLERK, SUPERVISOR, ADMIN, STAFF = (
    "anonymous",
    "clerk",
    "supervisor",
    "institution_admin",
    "staff",
)
ROLES = (ANON, CLERK, SUPERVISOR, ADMIN, STAFF)
MEMBERS = (CLERK, SUPERVISOR, ADMIN)
LOGIN = "302 to login"

# Routes not in the matrix, and why. Anything else without an entry fails the walk.
SKIPPED_NAMESPACES = {
    "admin": "Django admin: staff only, its own login; tested in tests/security/test_backoffice.py",
    "api-v1": "the integration API: keys, not sessions; its own matrix, generated from the same "
    "URL configuration, in tests/security/test_api_matrix.py",
}
SKIPPED_NAMES = {
    "set_language": "Django's i18n view: sets a language cookie, reads and shows no data",
}


# --- What each institution holds, to build URLs from ----------------------------------------


@dataclass
class Tenant:
    institution: Institution
    applicant: Any
    claim: Any
    batch: Batch
    extra: dict[str, Any] = field(default_factory=dict)


def make_tenant() -> Tenant:
    institution = InstitutionFactory()
    applicant = ApplicantFactory(institution=institution)
    claim = ClaimFactory(applicant=applicant, kind=ClaimKind.SCOLARITE)
    batch = Batch.objects.create(
        institution=institution, kind=BatchKind.IMPORT, label="Lot de test", total=1
    )
    applicant.batch = batch
    applicant.save(update_fields=["batch"])
    verification_batch = Batch.objects.create(
        institution=institution, kind=BatchKind.VERIFICATION, label="Vérification", total=1
    )
    return Tenant(
        institution=institution,
        applicant=applicant,
        claim=claim,
        batch=batch,
        extra={
            "verification_batch": verification_batch,
            "member": UserFactory(institution=institution),
        },
    )


# --- The table ------------------------------------------------------------------------------


def members(status: int, *, clerk: int | None = None) -> dict[str, Any]:
    """A page for members of an institution: anonymous users go to login, staff without an
    institution get 403."""
    return {
        ANON: LOGIN,
        CLERK: status if clerk is None else clerk,
        SUPERVISOR: status,
        ADMIN: status,
        STAFF: 403,
    }


def everyone(status: int | str) -> dict[str, Any]:
    return dict.fromkeys(ROLES, status)


NOT_ALLOWED = everyone(405)


@dataclass(frozen=True)
class Route:
    # Builds the URL's kwargs from one institution's objects (None: the URL takes none).
    kwargs: Callable[[Tenant], dict[str, Any]] | None
    # method -> role -> expected status
    expect: dict[str, dict[str, Any]]
    # Whether the kwargs name an institution's objects (then tested across institutions).
    ids: bool = True


def route(
    kwargs: Callable[[Tenant], dict[str, Any]] | None = None, *, ids: bool = True, **expect: dict
) -> Route:
    return Route(kwargs=kwargs, expect={m.upper(): v for m, v in expect.items()}, ids=ids)


def applicant(t: Tenant) -> dict[str, Any]:
    return {"applicant_id": t.applicant.pk}


def claim(t: Tenant) -> dict[str, Any]:
    return {"claim_id": t.claim.pk}


def variant_request(t: Tenant):
    """A variant of the claim's question that the source did not find either."""
    from verifications.models import VerificationRequest

    return VerificationRequest.objects.create(
        institution=t.institution,
        claim=t.claim,
        source="api_particulier",
        trigger="manual",
        state="done",
        verdict="not_found",
        reason_code="scolarite.not_found",
        variant={"key": "ascii", "changes": {"birth_name": "X"}},
        variant_key="ascii",
    )


ROUTES: dict[str, Route] = {
    # verifications
    "home": route(get=members(200), post=NOT_ALLOWED),
    "applicant_detail": route(applicant, get=members(200), post=NOT_ALLOWED),
    "applicant_timeline": route(applicant, get=members(200), post=NOT_ALLOWED),
    "claim_card": route(claim, get=members(200), post=NOT_ALLOWED),
    "claim_verify": route(claim, get=NOT_ALLOWED, post=members(302)),
    "applicant_verify_all": route(applicant, get=NOT_ALLOWED, post=members(302)),
    # An empty form comes back with its errors (400) on the applicant's page.
    "claim_manual": route(claim, get=NOT_ALLOWED, post=members(400)),
    "claim_override": route(claim, get=NOT_ALLOWED, post=members(400, clerk=403)),
    "claim_variants": route(claim, get=NOT_ALLOWED, post=members(400)),
    # A variant the source did not find cannot correct the record: refused with a message.
    "claim_variant_correct": route(
        lambda t: {"claim_id": t.claim.pk, "request_id": variant_request(t).pk},
        get=NOT_ALLOWED,
        post=members(302),
    ),
    # admissions
    "applicant_list": route(get=members(200), post=NOT_ALLOWED),
    "applicant_create": route(get=members(200), post=members(200)),
    "applicant_edit": route(applicant, get=members(200), post=members(200)),
    "claim_add": route(
        lambda t: {"applicant_id": t.applicant.pk, "kind": ClaimKind.CVEC},
        get=members(200),
        post=members(200),
    ),
    "claim_edit": route(claim, get=members(200), post=members(200)),
    # authentication
    "login": route(
        get={**everyone(302), ANON: 200},
        post={**everyone(302), ANON: 200},
    ),
    "logout": route(get=NOT_ALLOWED, post=everyone(302)),
    # operations (admissions/ops): no login, no session; /metrics is off (404) without a token
    # or an allowed network, which the tests' settings do not set (tests/ops/test_metrics.py)
    "healthz": route(get=everyone(200), post=NOT_ALLOWED),
    "readyz": route(get=everyone(200), post=NOT_ALLOWED),
    "metrics": route(get=everyone(404), post=NOT_ALLOWED),
    # Certificates (docs/CERTIFICATES.md): a claim never checked has none (back to its page
    # with a message); the public check and the signing keys need no login and show nothing
    # of an institution's data to a guess.
    "claim_certificate": route(claim, get=members(302), post=NOT_ALLOWED),
    "certificate_public": route(get=everyone(200), post=NOT_ALLOWED),
    "certificate_public_direct": route(
        lambda t: {"number": "VC-0000-0000", "code": "AAAAAAAA"},
        ids=False,
        get=everyone(200),
        post=NOT_ALLOWED,
    ),
    "signing_keys": route(get=everyone(200), post=NOT_ALLOWED),
    # How the verifications go: aggregates of the institution's own checks, for supervisors
    "analytics": route(get=members(200, clerk=403), post=NOT_ALLOWED),
    "analytics_export": route(
        lambda t: {"figure": "delais"}, ids=False, get=members(200, clerk=403), post=NOT_ALLOWED
    ),
    # a redirect to /static/favicon.svg, for pages that do not link it (the back-office's)
    "favicon": route(get=everyone(302), post=NOT_ALLOWED),
}


# --- Written ahead: routes of areas not merged when this table was written ------------------
# Each entry applies as soon as its route is in the URL configuration (and is then checked
# like the others); until then it is ignored. Move an entry into ROUTES once its route lands.

_import_serial = iter(range(1, 10**6))


def staged_import(t: Tenant) -> dict[str, Any]:
    """A fresh staged CSV of one valid applicant, staged by a member of the institution."""
    from verifications.imports import import_stage

    n = next(_import_serial)
    data = (
        "reference_dossier;nom_naissance;prenom_1;sexe;date_naissance\r\n"
        f"MATRICE-{t.institution.pk}-{n};MARTIN;EMMA;F;15/08/2005\r\n"
    ).encode()
    token = import_stage(acting_user=t.extra["member"], data=data, filename="matrice.csv")
    return {"token": token}


def verification_batch(t: Tenant) -> dict[str, Any]:
    return {"batch_id": t.extra["verification_batch"].pk}


def import_batch(t: Tenant) -> dict[str, Any]:
    return {"batch_id": t.batch.pk}


def clerks_import(t: Tenant) -> dict[str, Any]:
    """An import made by the tenant's latest clerk (the test's own clerk, for ours), with one
    claim never checked."""
    from admissions.models import User

    maker = User.objects.filter(institution=t.institution, role=Role.CLERK).latest("pk")
    batch = Batch.objects.create(
        institution=t.institution, kind=BatchKind.IMPORT, label="Import", total=1, created_by=maker
    )
    ClaimFactory(applicant=ApplicantFactory(institution=t.institution, batch=batch))
    return {"batch_id": batch.pk}


def verdict_change(t: Tenant) -> dict[str, Any]:
    """A fresh, undismissed verdict change addressed to nobody in particular (supervisors and
    admins see those; a clerk sees only the ones addressed to them)."""
    from verifications.models import VerdictChange, VerificationRequest

    requests = [
        VerificationRequest.objects.create(
            institution=t.institution,
            claim=t.claim,
            source="api_particulier",
            trigger="scheduled",
            state="done",
            verdict=verdict,
        )
        for verdict in ("confirmed", "contradicted")
    ]
    change = VerdictChange.objects.create(
        institution=t.institution,
        claim=t.claim,
        request=requests[1],
        previous_request=requests[0],
        previous_verdict="confirmed",
        verdict="contradicted",
    )
    return {"change_id": change.pk}


def certificate_archive(t: Tenant) -> dict[str, Any]:
    """A ready certificate archive of the tenant's verification batch."""
    from django.core.files.base import ContentFile

    from verifications.models import CertificateArchive

    batch = t.extra["verification_batch"]
    archive = CertificateArchive(
        institution=t.institution,
        batch=batch,
        state="done",
        total=0,
        requested_by=t.extra["member"],
        verify_url="http://testserver/certificats/",
    )
    archive.file.save("matrice.zip", ContentFile(b"PK\x05\x06" + b"\x00" * 18), save=True)
    return {"batch_id": batch.pk, "archive_id": archive.pk}


def batch_export_file(t: Tenant) -> dict[str, Any]:
    """A ready results file (XLSX, written in the background) of the tenant's batch."""
    from django.core.files.base import ContentFile

    from verifications.models import BatchExport

    batch = t.extra["verification_batch"]
    export = BatchExport(
        institution=t.institution, batch=batch, state="done", requested_by=t.extra["member"]
    )
    export.file.save("matrice.xlsx", ContentFile(b"PK\x05\x06" + b"\x00" * 18), save=True)
    return {"batch_id": batch.pk, "export_id": export.pk}


SUPERVISORS_ONLY = 403  # what a clerk gets on a supervisor's page

ROUTES_AHEAD: dict[str, Route] = {
    # Audit trail (audit area)
    "audit_list": route(get=members(200, clerk=SUPERVISORS_ONLY), post=NOT_ALLOWED),
    "audit_export": route(
        lambda t: {"export_format": "csv"},
        ids=False,
        get=members(200, clerk=SUPERVISORS_ONLY),
        post=NOT_ALLOWED,
    ),
}


# --- Walking the URL configuration ----------------------------------------------------------


@dataclass(frozen=True)
class Found:
    name: str
    pattern: str


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[Found | str]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in SKIPPED_NAMESPACES:
                continue
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern):
            if entry.name in SKIPPED_NAMES:
                continue
            if not entry.name:
                yield f"unnamed route {prefix}{entry.pattern}: give it a name"
                continue
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Found(name, prefix + str(entry.pattern))


def discovered() -> list[Found]:
    return [f for f in _walk(get_resolver().url_patterns) if isinstance(f, Found)]


# Landed with the retention area (on main): part of the table proper.
ROUTES.update(
    {
        # Retention, GDPR (retention area)
        "institution_settings": route(
            get={**members(200, clerk=403), SUPERVISOR: 403},
            post={**members(400, clerk=403), SUPERVISOR: 403},
        ),
        "verdict_change_dismiss": route(
            verdict_change, get=NOT_ALLOWED, post=members(302, clerk=404)
        ),
        "applicant_export": route(
            applicant, get=members(200, clerk=SUPERVISORS_ONLY), post=NOT_ALLOWED
        ),
        "applicant_export_page": route(
            applicant, get=members(200, clerk=SUPERVISORS_ONLY), post=NOT_ALLOWED
        ),
        "applicant_erase": route(
            applicant,
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=members(400, clerk=SUPERVISORS_ONLY),
        ),
    }
)

# Landed with the batches area (CSV import, batch verification): part of the table proper.
ROUTES.update(
    {
        # CSV import (batches area)
        "import_template": route(get=members(200), post=NOT_ALLOWED),
        "import_upload": route(get=members(200), post=members(400)),
        "import_preview": route(staged_import, get=members(200), post=NOT_ALLOWED),
        "import_confirm": route(staged_import, get=NOT_ALLOWED, post=members(302)),
        "import_cancel": route(staged_import, get=NOT_ALLOWED, post=members(302)),
        # Batch verification (batches area)
        "batch_list": route(get=members(200), post=NOT_ALLOWED),
        "batch_new": route(get=members(200, clerk=SUPERVISORS_ONLY), post=NOT_ALLOWED),
        # An empty cohort is every claim: GET shows what would run, POST launches it.
        "batch_launch": route(
            get=members(200, clerk=SUPERVISORS_ONLY), post=members(302, clerk=SUPERVISORS_ONLY)
        ),
        "batch_detail": route(import_batch, get=members(200), post=NOT_ALLOWED),
        "batch_progress": route(verification_batch, get=members(200), post=NOT_ALLOWED),
        # A clerk verifies the imports they made (another's: 403, in
        # tests/verifications/test_cohort_verification.py); the launch goes to its new batch.
        "import_verify": route(clerks_import, get=NOT_ALLOWED, post=members(302)),
        "batch_pause": route(
            verification_batch, get=NOT_ALLOWED, post=members(302, clerk=SUPERVISORS_ONLY)
        ),
        "batch_resume": route(
            verification_batch, get=NOT_ALLOWED, post=members(302, clerk=SUPERVISORS_ONLY)
        ),
        "batch_rerun_failed": route(
            verification_batch, get=NOT_ALLOWED, post=members(302, clerk=SUPERVISORS_ONLY)
        ),
        "batch_variants": route(
            verification_batch, get=NOT_ALLOWED, post=members(302, clerk=SUPERVISORS_ONLY)
        ),
        "batch_export": route(
            lambda t: {**verification_batch(t), "file_format": "csv"},
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=NOT_ALLOWED,
        ),
        # A batch's results as XLSX, written in the background: the panel, and asking for a
        # file (back to the batch's page); a ready file downloads.
        "batch_exports": route(
            verification_batch,
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=members(302, clerk=SUPERVISORS_ONLY),
        ),
        "batch_export_download": route(
            batch_export_file,
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=NOT_ALLOWED,
        ),
        # A batch's certificates: the panel, and asking for a ZIP (nothing to certify in the
        # tenant's batch: back to its page with a message); a ready archive downloads.
        "batch_certificates": route(
            verification_batch,
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=members(302, clerk=SUPERVISORS_ONLY),
        ),
        "certificate_archive_download": route(
            certificate_archive,
            get=members(200, clerk=SUPERVISORS_ONLY),
            post=NOT_ALLOWED,
        ),
    }
)


def api_key(t: Tenant) -> dict[str, Any]:
    from api.services import api_key_create

    admin = UserFactory(institution=t.institution, role=Role.INSTITUTION_ADMIN)
    created = api_key_create(
        acting_user=admin,
        name="SI",
        scopes=["read"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    return {"key_id": created.api_key.pk}


ADMINS_ONLY = {**members(200, clerk=403), SUPERVISOR: 403}

# Landed with the integration API (issue 16): its pages. The API itself: test_api_matrix.py.
ROUTES.update(
    {
        # The reference page reads no data: open to all, like the OpenAPI document.
        "api_docs": route(get=everyone(200), post=NOT_ALLOWED),
        "api_keys": route(get=ADMINS_ONLY, post={**members(400, clerk=403), SUPERVISOR: 403}),
        "api_key_revoke": route(
            api_key, get=ADMINS_ONLY, post={**members(302, clerk=403), SUPERVISOR: 403}
        ),
    }
)


def webhook_endpoint(t: Tenant) -> dict[str, Any]:
    from webhooks.services.endpoints import webhook_endpoint_create

    admin = UserFactory(institution=t.institution, role=Role.INSTITUTION_ADMIN)
    created = webhook_endpoint_create(
        acting_user=admin, url="https://si.exemple.fr/vigie", events=["batch.finished"]
    )
    return {"endpoint_id": created.endpoint.pk}


def webhook_delivery(t: Tenant) -> dict[str, Any]:
    from webhooks.enums import EventType
    from webhooks.models import WebhookDelivery
    from webhooks.services.events import webhook_event_emit

    kwargs = webhook_endpoint(t)
    event = webhook_event_emit(
        institution_id=t.institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 1}
    )
    delivery = WebhookDelivery.objects.get(event=event, endpoint_id=kwargs["endpoint_id"])
    return {**kwargs, "delivery_id": delivery.pk}


ADMINS_POST = {**members(302, clerk=403), SUPERVISOR: 403}

# Landed with the webhooks (issue 16): the institution admin's endpoints (docs/WEBHOOKS.md).
ROUTES.update(
    {
        "webhook_endpoints": route(
            get=ADMINS_ONLY, post={**members(400, clerk=403), SUPERVISOR: 403}
        ),
        "webhook_endpoint": route(webhook_endpoint, get=ADMINS_ONLY, post=NOT_ALLOWED),
        # Enabling an endpoint that is enabled changes nothing: back to its page.
        "webhook_endpoint_enable": route(webhook_endpoint, get=NOT_ALLOWED, post=ADMINS_POST),
        "webhook_endpoint_delete": route(webhook_endpoint, get=ADMINS_ONLY, post=ADMINS_POST),
        "webhook_delivery_replay": route(webhook_delivery, get=NOT_ALLOWED, post=ADMINS_POST),
    }
)

_names = {f.name for f in discovered()}
ROUTES.update({name: entry for name, entry in ROUTES_AHEAD.items() if name in _names})


def test_every_route_is_in_the_table():
    problems = [f for f in _walk(get_resolver().url_patterns) if isinstance(f, str)]
    found = discovered()
    names = {f.name for f in found}
    problems += [
        f"route {f.name!r} (/{f.pattern}) has no entry in ROUTES of "
        "tests/security/test_route_matrix.py: add one saying what each role gets for each "
        "method, and how to build its URL from an institution's objects"
        for f in found
        if f.name not in ROUTES
    ]
    problems += [
        f"ROUTES has {name!r}, which the URL configuration no longer has: remove it"
        for name in ROUTES
        if name not in names
    ]
    assert not problems, "\n".join(problems)
    assert len(found) >= 13


def test_the_walk_finds_routes_of_every_app():
    patterns = {f.pattern for f in discovered()}
    assert "" in patterns
    assert "candidats/<id:applicant_id>/" in patterns
    assert "connexion/" in patterns


# --- Requests -------------------------------------------------------------------------------


@pytest.fixture
def ours() -> Tenant:
    return make_tenant()


@pytest.fixture
def theirs() -> Tenant:
    other = make_tenant()
    other.extra["clerk"] = UserFactory(institution=other.institution)
    return other


@pytest.fixture
def clients(ours: Tenant) -> dict[str, Client]:
    users = {
        CLERK: UserFactory(institution=ours.institution, role=Role.CLERK),
        SUPERVISOR: UserFactory(institution=ours.institution, role=Role.SUPERVISOR),
        ADMIN: UserFactory(institution=ours.institution, role=Role.INSTITUTION_ADMIN),
        STAFF: UserFactory(backoffice=True),
    }
    result = {ANON: Client()}
    for role, user in users.items():
        result[role] = Client()
        result[role].force_login(user)
    return result


def url_for(name: str, entry: Route, tenant: Tenant) -> str:
    kwargs = entry.kwargs(tenant) if entry.kwargs else {}
    return reverse(name, kwargs=kwargs)


def send(client: Client, method: str, url: str, **headers: str):
    return client.generic(method, url, headers=headers)


def security_header_problems(response) -> list[str]:
    problems = []
    policy = response.headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in policy:
        problems.append("CSP without frame-ancestors 'none'")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append("CSP allows unsafe-inline/eval")
    # The nonce is in the header only when the page used it (Django's CSP middleware).
    problems += [
        f"CSP without {directive}"
        for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'")
        if directive not in policy
    ]
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if response.headers.get("Referrer-Policy") != "same-origin":
        problems.append("no Referrer-Policy: same-origin")
    if response.headers.get("X-Frame-Options") != "DENY":
        problems.append("no X-Frame-Options: DENY")
    if "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append("no Cache-Control: no-store")
    return problems


def status_problem(response, expected: Any, *, htmx: bool = False) -> str | None:
    if expected == LOGIN:
        # A redirect to the login page; for htmx, HX-Redirect there is better (the whole page
        # goes to login rather than a fragment swapped with the login form).
        location = response.headers.get("Location", "")
        if response.status_code == 302 and location.startswith(reverse("login")):
            return None
        hx_location = response.headers.get("HX-Redirect", "")
        if htmx and response.status_code == 200 and hx_location.startswith(reverse("login")):
            return None
        return f"got {response.status_code} {location or hx_location}".strip()
    if response.status_code != expected:
        return f"got {response.status_code}"
    return None


def entries() -> list[str]:
    return sorted(ROUTES)


@pytest.mark.parametrize("name", entries())
def test_roles(name, ours, clients):
    entry = ROUTES[name]
    problems = []
    for method, expected_by_role in entry.expect.items():
        assert set(expected_by_role) == set(ROLES), f"{name} {method}: give every role"
        for role in ROLES:
            variants = [{}]
            if method == "GET":
                variants.append({"HX-Request": "true"})
            for headers in variants:
                # Each request on fresh objects: a POST may change what the next one sees.
                url = url_for(name, entry, ours)
                response = send(clients[role], method, url, **headers)
                label = f"{method} {url} as {role}{' (htmx)' if headers else ''}"
                problem = status_problem(response, expected_by_role[role], htmx=bool(headers))
                if problem:
                    problems.append(f"{label}: expected {expected_by_role[role]}, {problem}")
                problems += [f"{label}: {p}" for p in security_header_problems(response)]
    assert not problems, "\n".join(problems)


def cross_tenant_cases() -> list[str]:
    return sorted(name for name, entry in ROUTES.items() if entry.kwargs is not None and entry.ids)


@pytest.mark.parametrize("name", cross_tenant_cases())
def test_other_institutions_objects_are_not_found(name, ours, theirs, clients):
    entry = ROUTES[name]
    url = url_for(name, entry, theirs)
    assert url != url_for(name, entry, ours)
    their_events = AuditEvent.objects.filter(institution=theirs.institution).count()
    problems = []
    checked = 0
    for method, expected_by_role in entry.expect.items():
        for role in MEMBERS:
            own = expected_by_role[role]
            if own == 405:
                continue
            expected = own if own == 403 else 404
            response = send(clients[role], method, url)
            checked += 1
            if response.status_code != expected:
                problems.append(
                    f"{method} {url} as {role}: expected {expected}, got {response.status_code}"
                )
            problems += [
                f"{method} {url} as {role}: {p}" for p in security_header_problems(response)
            ]
    assert checked, f"{name}: no method a member may use"
    assert not problems, "\n".join(problems)
    assert AuditEvent.objects.filter(institution=theirs.institution).count() == their_events


def test_staff_of_the_back_office_cannot_reach_the_admin_as_a_clerk_and_vice_versa(clients):
    """The admin is skipped above; its one rule that matters here: members of an institution
    (not staff) are sent to the admin's login, staff get in."""
    index = reverse("admin:index")
    for role in (ANON, CLERK, SUPERVISOR, ADMIN):
        response = clients[role].get(index)
        assert response.status_code == 302, role
        assert response.headers["Location"].startswith(reverse("admin:login")), role
        assert not security_header_problems(response), role
    response = clients[STAFF].get(index)
    assert response.status_code == 200
    assert not security_header_problems(response)


def test_csrf_is_enforced_on_writes(ours):
    user = UserFactory(institution=ours.institution, role=Role.SUPERVISOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for name in ("claim_verify", "claim_manual", "claim_override"):
        response = client.post(url_for(name, ROUTES[name], ours))
        assert response.status_code == 403, name
    assert client.post(reverse("applicant_create")).status_code == 403


def test_ids_in_query_strings_do_not_cross_institutions(ours, theirs, clients):
    """Filters that take an id (the applicant list's batch) stay inside the institution."""
    response = clients[CLERK].get(reverse("applicant_list"), {"batch": theirs.batch.pk})
    assert response.status_code == 200
    assert theirs.applicant.file_reference not in response.text
    mine = clients[CLERK].get(reverse("applicant_list"), {"batch": ours.batch.pk})
    assert ours.applicant.file_reference in mine.text
