"""The number of SQL statements of each main page and fragment, pinned: a page that starts
asking one more query per row, or one more per request, fails ``make test`` here before it
shows in the pages benchmark (bench/pages.py; docs/PERFORMANCE.md).

Each count is for a populated institution (applicants with claims checked, an import, a
verification batch under way, audit events) and a warm request: the same person's second
request, once the first has recorded the consultation, filled the caches and set the CSRF
cookie. ``tests/verifications/test_views.py`` shows that the list's and fragments' counts do
not grow with their rows; this file says what they are. When a change adds or removes a query
on purpose, change the number and say why in the commit.
"""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from admissions.audit import audit_record
from admissions.enums import AuditAction, Role
from admissions.identity import applicant_search_key
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from verifications.enums import BatchKind, ClaimKind, RequestState, Source, Trigger, Verdict
from verifications.models import Batch, VerificationAttempt, VerificationRequest
from verifications.services.batches import batch_verification_launch


pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def populated():
    """An institution with 12 applicants from one import, two claims each (checked, with a
    call each), a verification batch of four of them under way, and their audit events."""
    institution = InstitutionFactory()
    supervisor = UserFactory(institution=institution, role=Role.SUPERVISOR)
    imported = Batch.objects.create(
        institution=institution,
        kind=BatchKind.IMPORT,
        label="rentrée",
        created_by=supervisor,
        total=12,
    )
    claims = []
    now = timezone.now()
    for n in range(12):
        applicant = ApplicantFactory(institution=institution, batch=imported)
        applicant.name_key = applicant_search_key(
            {"birth_name": applicant.birth_name, "first_names": applicant.first_names}
        )
        applicant.save(update_fields=["name_key"])
        for kind, declared, source in (
            (ClaimKind.SCOLARITE, {"uai": "0132733A", "school_year": 2025}, Source.API_PARTICULIER),
            (ClaimKind.CVEC, {"code": f"BDX{n:09d}", "campaign": 2025}, Source.CVEC),
        ):
            claim = ClaimFactory(applicant=applicant, kind=kind, declared=declared)
            verdict = Verdict.CONFIRMED if n % 3 else Verdict.NOT_FOUND
            request = VerificationRequest.objects.create(
                institution=institution,
                claim=claim,
                source=source,
                trigger=Trigger.MANUAL,
                requested_by=supervisor,
                state=RequestState.DONE,
                verdict=verdict,
                reason="réponse de la source",
                finished_at=now,
                question_digest=claim.question_digest,
                attempt_count=1,
            )
            VerificationAttempt.objects.create(
                request=request, source=source, outcome="ok", http_status=200
            )
            claim.verdict, claim.verified_at = verdict, now
            claim.valid_until = now + timedelta(days=90)
            claim.save(update_fields=["verdict", "verified_at", "valid_until"])
            audit_record(
                action=AuditAction.VERDICT_RECORDED,
                actor=None,
                institution=institution,
                obj=claim,
                applicant_id=applicant.pk,
                details={"verdict": verdict},
            )
            claims.append(claim)
    batch = batch_verification_launch(acting_user=supervisor, claims=claims[:4], label="lot")
    return {
        "supervisor": supervisor,
        "applicant": claims[0].applicant,
        "claim": claims[0],
        "batch": batch,
        "import": imported,
    }


def _card_etag(client, data) -> dict:
    etag = client.get(reverse("claim_card", args=[data["claim"].pk]), headers=HTMX)["ETag"]
    return {**HTMX, "If-None-Match": etag}


# (what, its URL, its headers, its statements, why that many). Every request starts with two:
# the session and the user (AuthenticationMiddleware); "the institution" is the user's, read
# once by the page (the top bar, the roles).
PAGES: list[tuple[str, Callable[[dict], str], Callable | None, int, str]] = [
    (
        "dashboard",
        lambda d: reverse("home"),
        None,
        9,
        "session, user, institution; open checks per source; the last failure per source "
        "(one window query); batches under way; their progress (one grouped count); open "
        "alerts; verdict changes",
    ),
    (
        "applicant list",
        lambda d: reverse("applicant_list"),
        None,
        6,
        "session, user; the count for the pager; institution; the page of applicants; their "
        "claims (one query for the page)",
    ),
    (
        "applicant list, results (htmx)",
        lambda d: reverse("applicant_list") + "?sort=nom&page=1",
        lambda c, d: {**HTMX, "HX-Target": "applicant-results"},
        5,
        "the list without the page around it: no institution",
    ),
    (
        "applicant list, search",
        lambda d: reverse("applicant_list") + "?q=" + d["applicant"].birth_name[:4],
        None,
        6,
        "as the list: the matches counted, then the page of them and their claims",
    ),
    (
        "applicant page",
        lambda d: reverse("applicant_detail", args=[d["applicant"].pk]),
        None,
        14,
        "session, user, applicant, institution; the consultation already recorded within the "
        "window (a savepoint, the chain's lock, the last view, released); the cards' ETags "
        "(one aggregate); claims, their requests, their verdicts read again, the calls shown; "
        "the timeline",
    ),
    (
        "applicant timeline (htmx)",
        lambda d: reverse("applicant_timeline", args=[d["applicant"].pk]),
        lambda c, d: HTMX,
        4,
        "session, user, applicant, its audit events with their actors",
    ),
    (
        "claim card (htmx)",
        lambda d: reverse("claim_card", args=[d["claim"].pk]),
        lambda c, d: HTMX,
        7,
        "session, user; its ETag (one aggregate, read first); the claim with its applicant; "
        "its requests; its verdict read again; the calls shown",
    ),
    (
        "claim card unchanged (htmx, 304)",
        lambda d: reverse("claim_card", args=[d["claim"].pk]),
        _card_etag,
        3,
        "session, user, the ETag's aggregate: nothing else read, nothing rendered",
    ),
    (
        "batch list",
        lambda d: reverse("batch_list"),
        None,
        6,
        "session, user; the count for the pager; the page of batches (launcher and import "
        "joined); their progress (one grouped count); institution",
    ),
    (
        "verification batch page",
        lambda d: reverse("batch_detail", args=[d["batch"].pk]),
        None,
        9,
        "session, user, batch; its progress (one grouped count); the checks queued ahead "
        "(one grouped count); results files; certificate archives; institution; who "
        "launched it",
    ),
    (
        "verification batch progress (htmx)",
        lambda d: reverse("batch_progress", args=[d["batch"].pk]),
        lambda c, d: HTMX,
        5,
        "session, user, batch; its progress; the checks queued ahead (for the ETA)",
    ),
    (
        "import batch page",
        lambda d: reverse("batch_detail", args=[d["import"].pk]),
        None,
        8,
        "session, user, batch; its applicants (count); claims left to check; its "
        "verification, if any; institution; who launched it",
    ),
    (
        "audit trail",
        lambda d: reverse("audit_list"),
        None,
        6,
        "session, user; the institution's people (the actor filter); the page of events "
        "(keyset, no count); their applicants; institution",
    ),
    (
        "analytics",
        lambda d: reverse("analytics"),
        None,
        7,
        "session, user, institution; the rollup's watermark (none yet: the period read live, "
        "one grouped query; the manual queue from its cache); verdict changes; calls by "
        "outcome",
    ),
]


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [pytest.param(url, headers, expected, id=name) for name, url, headers, expected, _ in PAGES],
)
def test_each_page_and_fragment_runs_a_pinned_number_of_statements(
    client, populated, django_assert_num_queries, url, headers, expected
):
    client.force_login(populated["supervisor"])
    path = url(populated)
    sent = headers(client, populated) if headers else {}
    first = client.get(path, headers=sent)  # the consultation recorded, the caches filled
    assert first.status_code in (200, 304), first.status_code
    with django_assert_num_queries(expected):
        response = client.get(path, headers=sent)
    assert response.status_code in (200, 304)
