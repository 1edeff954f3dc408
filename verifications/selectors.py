"""Reads of the verification pipeline, scoped to the user's institution."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from admissions.enums import BatchKind, BatchStatus, ClaimKind, Verdict
from admissions.models import Applicant, Batch, Claim, InstitutionCredential, User
from admissions.selectors import batches_for_user, claims_for_user
from verifications.enums import OPEN_STATES, RequestState, Trigger
from verifications.freshness import EXPIRY_WARNING_DAYS, expiry_threshold
from verifications.models import (
    SourceAlert,
    VerdictChange,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.verdicts.common import academic_year


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


# --- Scheduled re-verification, notifications, credentials (retention area) -----------------

# Verdicts the scheduler leaves alone: "rejected" waits for an admin (a re-check would only
# raise the same alert again), "manual" is a person's decision.
NOT_RESCHEDULED = (Verdict.REJECTED, Verdict.MANUAL)
PERSON_TRIGGERS = (Trigger.MANUAL_CHECK, Trigger.OVERRIDE)


def claims_due_for_recheck(
    *, institution_id: int, kind: str, cutoff: datetime | None, now: datetime
) -> QuerySet[Claim]:
    """Claims of one kind of one institution that a scheduled re-check should look at, oldest
    check first: checked before (verdict given), not waiting for a person, no check under way,
    and either stale by their own ``valid_until`` or checked before the policy's ``cutoff``.

    Scolarité claims about a school year that is over are history (their verdict no longer
    changes: ``verdicts.scolarite``) and are never due."""
    stale = Q(valid_until__lte=now)
    if cutoff is not None:
        stale |= Q(verified_at__lt=cutoff)
    last_trigger = (
        VerificationRequest.objects.filter(claim=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("trigger")[:1]
    )
    open_request = VerificationRequest.objects.filter(claim=OuterRef("pk"), state__in=OPEN_STATES)
    claims = (
        Claim.objects.filter(institution_id=institution_id, kind=kind, verified_at__isnull=False)
        .exclude(verdict="")
        .exclude(verdict__in=NOT_RESCHEDULED)
        .filter(stale)
        .annotate(last_trigger=Subquery(last_trigger))
        .filter(Q(last_trigger__isnull=True) | ~Q(last_trigger__in=PERSON_TRIGGERS))
        .exclude(Exists(open_request))
    )
    if kind == ClaimKind.SCOLARITE:
        claims = claims.exclude(declared__school_year__lt=academic_year(now))
    return claims.order_by("verified_at", "id")


def open_scheduled_by_source() -> dict[str, int]:
    """Scheduled re-checks not finished yet, per source, all institutions together."""
    rows = (
        VerificationRequest.objects.filter(trigger=Trigger.SCHEDULED, state__in=OPEN_STATES)
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
    )
    return {row["source"]: row["n"] for row in rows}


def verdict_changes_for_user(user: User) -> QuerySet[VerdictChange]:
    """The dashboard's "Changements de verdict": not dismissed, addressed to this user (and,
    for supervisors and admins, those nobody in particular is addressed)."""
    if not user.is_authenticated or user.institution_id is None:
        return VerdictChange.objects.none()
    mine = Q(recipient=user)
    if user.is_supervisor:
        mine |= Q(recipient__isnull=True)
    return (
        VerdictChange.objects.filter(institution_id=user.institution_id, dismissed_at__isnull=True)
        .filter(mine)
        .select_related("claim__applicant")
        .order_by("-created_at", "-id")
    )


def verdict_change_get_for_user(*, user: User, change_id: int) -> VerdictChange:
    return get_object_or_404(verdict_changes_for_user(user), pk=change_id)


def credentials_expiring_for_user(user: User, *, now: datetime) -> list[dict]:
    """Tokens of the user's institution within 90 days of their expiry (institution admins
    only: they are the ones who renew them)."""
    if not user.is_authenticated or user.institution_id is None or not user.is_institution_admin:
        return []
    horizon = now + timedelta(days=max(EXPIRY_WARNING_DAYS))
    rows = InstitutionCredential.objects.filter(
        institution_id=user.institution_id, expires_at__isnull=False, expires_at__lte=horizon
    ).order_by("expires_at")
    return [
        {
            "credential": row,
            "expired": row.expires_at <= now,
            "days_left": max(0, (row.expires_at - now).days),
            "threshold": expiry_threshold(row.expires_at, now),
        }
        for row in rows
    ]
