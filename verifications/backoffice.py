"""Back-office reads over every institution (staff only, in the Django admin): the health of each
source and the requests that look stuck. Clerk-facing reads stay in ``selectors`` (scoped)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from verifications.enums import OPEN_STATES, AttemptOutcome, RequestState, Source
from verifications.models import SourceAlert, VerificationAttempt, VerificationRequest
from verifications.providers.limits import BreakerState, LimiterUnavailable, get_limiter


FAILED_OUTCOMES = (
    AttemptOutcome.UNAVAILABLE,
    AttemptOutcome.RATE_LIMITED,
    AttemptOutcome.REJECTED,
)


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


def stuck_condition(now: datetime | None = None) -> Q:
    """Running with an expired lease, or pending and due for longer than
    ``VERIFICATION_STUCK_PENDING`` (its message was lost and the dispatcher did not recover it,
    or the workers are down)."""
    now = now or timezone.now()
    pending_since = now - settings.VERIFICATION_STUCK_PENDING
    return Q(state=RequestState.RUNNING, claimed_at__lt=now - settings.VERIFICATION_LEASE) | (
        Q(state=RequestState.PENDING, created_at__lt=pending_since)
        & (Q(not_before__isnull=True) | Q(not_before__lt=pending_since))
    )


@dataclass(frozen=True)
class SourceHealth:
    source: str
    label: str
    breaker: BreakerState | None
    open_requests: int
    stuck_requests: int
    last_failure: VerificationAttempt | None
    alerts: list[SourceAlert]
    retry_at: datetime | None = None  # an open breaker's next probe
    cooldown_until: datetime | None = None  # a shared pause (429, Retry-After)
    last_opened_at: datetime | None = None  # the last time its breaker opened
    window_seconds: float = 0.0  # the breaker's window (failures counted over it)


def provider_health(now: datetime | None = None) -> tuple[list[SourceHealth], bool]:
    """One row per source, and whether the shared limiter could be read."""
    now = now or timezone.now()
    limiter = get_limiter()
    try:
        breakers = limiter.breakers()
        limiter_ok = True
    except LimiterUnavailable:
        breakers, limiter_ok = {}, False
    open_counts = dict(
        VerificationRequest.objects.filter(state__in=OPEN_STATES)
        .order_by()
        .values_list("source")
        .annotate(n=Count("id"))
    )
    stuck_counts = dict(
        VerificationRequest.objects.filter(stuck_condition(now))
        .order_by()
        .values_list("source")
        .annotate(n=Count("id"))
    )
    alerts: dict[str, list[SourceAlert]] = {}
    for alert in SourceAlert.objects.filter(resolved_at__isnull=True).select_related("institution"):
        alerts.setdefault(alert.source, []).append(alert)
    since = now - timedelta(days=7)
    rows = []
    for source in Source:
        last_failure = (
            VerificationAttempt.objects.filter(
                source=source, outcome__in=FAILED_OUTCOMES, created_at__gte=since
            )
            .order_by("-created_at", "-id")
            .first()
        )
        breaker = breakers.get(source.value)
        rows.append(
            SourceHealth(
                source=source.value,
                label=str(source.label),
                breaker=breaker,
                retry_at=_when(breaker.retry_at if breaker else None),
                cooldown_until=_when(breaker.cooldown_until if breaker else None),
                last_opened_at=_when(breaker.last_opened_at if breaker else None),
                window_seconds=limiter.config.failure_window,
                open_requests=open_counts.get(source.value, 0),
                stuck_requests=stuck_counts.get(source.value, 0),
                last_failure=last_failure,
                alerts=alerts.get(source.value, []),
            )
        )
    return rows, limiter_ok
