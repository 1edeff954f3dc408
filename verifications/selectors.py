"""Reads of the verification pipeline, scoped to the user's institution."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from admissions.enums import BatchKind, BatchStatus
from admissions.models import Applicant, Batch, Claim, User
from admissions.selectors import batches_for_user, claims_for_user
from verifications.enums import OPEN_STATES, RequestState
from verifications.models import SourceAlert, VerificationAttempt, VerificationRequest


def requests_for_user(user: User) -> QuerySet[VerificationRequest]:
    if not user.is_authenticated or user.institution_id is None:
        return VerificationRequest.objects.none()
    return VerificationRequest.objects.filter(institution_id=user.institution_id)


@dataclass
class ClaimCard:
    """Everything one claim's card shows: the claim, its latest request, that request's calls."""

    claim: Claim
    request: VerificationRequest | None
    attempts: list[VerificationAttempt] = field(default_factory=list)

    @property
    def in_progress(self) -> bool:
        return self.request is not None and self.request.state in OPEN_STATES

    @property
    def waiting_until(self) -> datetime | None:
        if self.request is None or self.request.state != RequestState.PENDING:
            return None
        nb = self.request.not_before
        return nb if nb is not None and nb > timezone.now() else None


def claim_cards(*, user: User, claims: list[Claim]) -> list[ClaimCard]:
    """Cards for these claims in three queries, whatever their number."""
    if not claims:
        return []
    latest: dict[int, VerificationRequest] = {}
    requests = (
        requests_for_user(user).filter(claim__in=claims).order_by("claim_id", "-created_at", "-id")
    )
    for request in requests.select_related("requested_by"):
        latest.setdefault(request.claim_id, request)
    attempts: dict[int, list[VerificationAttempt]] = {}
    for attempt in VerificationAttempt.objects.filter(request__in=list(latest.values())).order_by(
        "created_at", "id"
    ):
        attempts.setdefault(attempt.request_id, []).append(attempt)
    return [
        ClaimCard(
            claim=claim,
            request=latest.get(claim.pk),
            attempts=attempts.get(latest[claim.pk].pk, []) if claim.pk in latest else [],
        )
        for claim in claims
    ]


def claim_cards_for_applicant(*, user: User, applicant: Applicant) -> list[ClaimCard]:
    claims = list(claims_for_user(user).filter(applicant=applicant).order_by("kind", "id"))
    for claim in claims:
        claim.applicant = applicant
    return claim_cards(user=user, claims=claims)


def claim_card(*, user: User, claim: Claim) -> ClaimCard:
    return claim_cards(user=user, claims=[claim])[0]


@dataclass
class BatchProgress:
    batch: Batch
    total: int
    done: int
    by_verdict: dict[str, int]
    pending: int
    running: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


def batch_progress(*, user: User, batch: Batch) -> BatchProgress:
    rows = (
        requests_for_user(user)
        .filter(batch=batch)
        .order_by()
        .values("state", "verdict")
        .annotate(n=Count("id"))
    )
    by_verdict: dict[str, int] = {}
    counts = {RequestState.PENDING: 0, RequestState.RUNNING: 0, RequestState.DONE: 0}
    for row in rows:
        counts[row["state"]] += row["n"]
        if row["state"] == RequestState.DONE:
            by_verdict[row["verdict"]] = by_verdict.get(row["verdict"], 0) + row["n"]
    total = sum(counts.values())
    return BatchProgress(
        batch=batch,
        total=total,
        done=counts[RequestState.DONE],
        by_verdict=by_verdict,
        pending=counts[RequestState.PENDING],
        running=counts[RequestState.RUNNING],
    )


def batches_in_progress(user: User) -> QuerySet[Batch]:
    return batches_for_user(user).filter(
        kind=BatchKind.VERIFICATION, status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED]
    )


def open_alerts(user: User) -> QuerySet[SourceAlert]:
    if user.institution_id is None:
        return SourceAlert.objects.none()
    return SourceAlert.objects.filter(institution_id=user.institution_id, resolved_at__isnull=True)


def pending_by_source(user: User) -> dict[str, int]:
    rows = (
        requests_for_user(user)
        .filter(state__in=OPEN_STATES)
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
    )
    return {row["source"]: row["n"] for row in rows}


def last_error_by_source(user: User) -> dict[str, datetime]:
    rows = (
        VerificationAttempt.objects.filter(
            request__institution_id=user.institution_id,
            outcome__in=["unavailable", "rate_limited", "rejected"],
            created_at__gte=timezone.now() - timezone.timedelta(days=1),
        )
        .order_by()
        .values("source")
        .annotate(last=Max("created_at"))
    )
    return {row["source"]: row["last"] for row in rows}


def claims_needing_attention(user: User) -> QuerySet[Claim]:
    from admissions.enums import VERDICTS_NEEDING_ATTENTION

    return claims_for_user(user).filter(verdict__in=VERDICTS_NEEDING_ATTENTION)
