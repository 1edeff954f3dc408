"""How an institution's verifications go (the analytics page, for supervisors and admins):
read-only aggregates over its requests, attempts and verdict changes, per period and claim kind.

Each figure is one or two grouped queries on indexed columns (institution, state, finished_at);
durations are read as one column and their percentiles computed here. Figures count the
sources' answers to each claim's own question (not identity variants, not a person's decision)
unless they say otherwise.
"""

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from verifications.enums import (
    PERSON_TRIGGERS,
    VERDICTS_NEEDING_ATTENTION,
    AttemptOutcome,
    ClaimKind,
    RequestState,
    Trigger,
    Verdict,
)
from verifications.models import Claim, VerdictChange, VerificationAttempt, VerificationRequest
from verifications.verdicts import REASONS


PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
# The reasons worth a look, per source: the top few of each.
EXPLAINED_VERDICTS = (Verdict.NOT_FOUND, Verdict.MISMATCH, Verdict.UNAVAILABLE)
TOP_REASONS = 5


@dataclass(frozen=True)
class Scope:
    institution_id: int
    since: datetime
    kind: str = ""  # one ClaimKind, or every kind

    @classmethod
    def last_days(cls, institution_id: int, days: int, kind: str = "") -> "Scope":
        return cls(institution_id, timezone.now() - timedelta(days=days), kind)


def _source_answers(scope: Scope) -> QuerySet[VerificationRequest]:
    """Done checks of claims' own questions by a source, finished in the period."""
    answers = VerificationRequest.objects.filter(
        institution_id=scope.institution_id,
        state=RequestState.DONE,
        variant_key="",
        finished_at__gte=scope.since,
    ).exclude(trigger__in=PERSON_TRIGGERS)
    if scope.kind:
        answers = answers.filter(claim__kind=scope.kind)
    return answers


@dataclass(frozen=True)
class KindShare:
    kind: str
    checked: int
    confirmed: int

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.checked) if self.checked else 0


def first_check_confirmed(scope: Scope) -> list[KindShare]:
    """Per kind, the claims first checked in the period and how many the first answer
    confirmed."""
    firsts = (
        VerificationRequest.objects.filter(
            institution_id=scope.institution_id, state=RequestState.DONE, variant_key=""
        )
        .exclude(trigger__in=PERSON_TRIGGERS)
        .values("claim_id")
        .annotate(first=Min("id"))
        .values("first")
    )
    rows = (
        _source_answers(scope)
        .filter(pk__in=firsts)
        .values("claim__kind")
        .annotate(checked=Count("id"), confirmed=Count("id", filter=Q(verdict=Verdict.CONFIRMED)))
    )
    found = {row["claim__kind"]: row for row in rows}
    return [
        KindShare(kind, found[kind]["checked"], found[kind]["confirmed"])
        for kind in ClaimKind
        if kind in found
    ]


@dataclass(frozen=True)
class KindDelay:
    kind: str
    checks: int
    median_seconds: float
    p90_seconds: float


def _percentile(values: list[float], share: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def time_to_verdict(scope: Scope) -> list[KindDelay]:
    """Per kind, the time from a check's request to its verdict: median and 90th percentile."""
    by_kind: dict[str, list[float]] = {}
    rows = _source_answers(scope).values_list("claim__kind", "created_at", "finished_at")
    for kind, created, finished in rows.iterator(chunk_size=5000):
        if finished is not None:  # a done request has finished
            by_kind.setdefault(kind, []).append((finished - created).total_seconds())
    return [
        KindDelay(
            kind,
            len(values),
            statistics.median(values),
            _percentile(sorted(values), 0.9),
        )
        for kind in ClaimKind
        if (values := by_kind.get(kind))
    ]


@dataclass
class Week:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def verdicts_by_week(scope: Scope) -> list[Week]:
    """The sources' verdicts, week by week (weeks start on Monday)."""
    rows = (
        _source_answers(scope)
        .annotate(week=TruncWeek("finished_at"))
        .values("week", "verdict")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    weeks: dict[datetime, Week] = {}
    for row in rows:
        weeks.setdefault(row["week"], Week(row["week"])).counts[row["verdict"]] = row["n"]
    return list(weeks.values())


@dataclass(frozen=True)
class ReasonCount:
    source: str
    verdict: str
    reason_code: str
    # The provider's error (code, HTTP status) for the reasons that are one; empty otherwise.
    error_code: str
    error_status: str
    count: int


def _is_provider_error(reason_code: str) -> bool:
    return reason_code in REASONS and "%(error)s" in str(REASONS[reason_code])


def top_reasons(scope: Scope) -> list[ReasonCount]:
    """For "not found", "mismatch" and "unavailable", the commonest reasons per source; a
    provider error counts per error code (a reason's other details, such as the year a source
    echoed, vary from one applicant to the next and are not counted apart)."""
    rows = (
        _source_answers(scope)
        .filter(verdict__in=EXPLAINED_VERDICTS)
        .values("source", "verdict", "reason_code", "reason_params__code", "reason_params__status")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[str, str, str, str, str], int] = {}
    for row in rows:
        error = _is_provider_error(row["reason_code"])
        code, status = row["reason_params__code"], row["reason_params__status"]
        key = (
            row["source"],
            row["verdict"],
            row["reason_code"],
            str(code) if error and code is not None else "",
            str(status) if error and status is not None else "",
        )
        counts[key] = counts.get(key, 0) + row["n"]
    ordered = sorted(counts.items(), key=lambda item: (item[0][0], item[0][1], -item[1], item[0]))
    kept: dict[tuple[str, str], int] = {}
    reasons = []
    for (source, verdict, reason_code, code, status), n in ordered:
        if kept.get((source, verdict), 0) >= TOP_REASONS:
            continue
        kept[(source, verdict)] = kept.get((source, verdict), 0) + 1
        reasons.append(ReasonCount(source, verdict, reason_code, code, status, n))
    return reasons


@dataclass(frozen=True)
class ManualQueue:
    claims: int
    oldest: datetime | None
    median_age_days: float


def manual_queue(scope: Scope) -> ManualQueue:
    """The claims waiting for a person (a verdict that needs one), now, and how long they have
    waited since their check."""
    claims = Claim.objects.filter(
        institution_id=scope.institution_id, verdict__in=VERDICTS_NEEDING_ATTENTION
    )
    if scope.kind:
        claims = claims.filter(kind=scope.kind)
    now = timezone.now()
    ages = sorted(
        (now - checked).total_seconds() / 86400
        for checked in claims.exclude(verified_at=None).values_list("verified_at", flat=True)
        if checked is not None
    )
    oldest = (
        claims.exclude(verified_at=None)
        .order_by("verified_at")
        .values_list("verified_at", flat=True)
    )
    return ManualQueue(
        claims=claims.count(),
        oldest=oldest.first(),
        median_age_days=statistics.median(ages) if ages else 0.0,
    )


@dataclass(frozen=True)
class Change:
    previous: str
    verdict: str
    count: int


def night_changes(scope: Scope) -> list[Change]:
    """What the scheduled re-checks changed in the period: previous verdict → new one."""
    changes = VerdictChange.objects.filter(
        institution_id=scope.institution_id,
        created_at__gte=scope.since,
        request__trigger=Trigger.SCHEDULED,
    )
    if scope.kind:
        changes = changes.filter(claim__kind=scope.kind)
    rows = changes.values("previous_verdict", "verdict").annotate(n=Count("id")).order_by("-n")
    return [Change(r["previous_verdict"], r["verdict"], r["n"]) for r in rows]


@dataclass(frozen=True)
class Availability:
    source: str
    calls: int
    unavailable: int

    @property
    def percent(self) -> float:
        if not self.calls:
            return 100.0
        return round(100 * (self.calls - self.unavailable) / self.calls, 1)


def source_availability(scope: Scope) -> list[Availability]:
    """Each source's calls in the period and how many found it unavailable (timeouts, 5xx,
    an open breaker): the share it answered is its availability as the institution saw it."""
    attempts = VerificationAttempt.objects.filter(
        request__institution_id=scope.institution_id, created_at__gte=scope.since
    )
    if scope.kind:
        attempts = attempts.filter(request__claim__kind=scope.kind)
    rows = (
        attempts.values("source")
        .annotate(
            calls=Count("id"),
            unavailable=Count("id", filter=Q(outcome=AttemptOutcome.UNAVAILABLE)),
        )
        .order_by("source")
    )
    return [Availability(r["source"], r["calls"], r["unavailable"]) for r in rows]
