"""How an institution's verifications go (the analytics page, for supervisors and admins):
read-only aggregates over its requests, attempts and verdict changes, per period and claim kind.

Figures count the sources' answers to each claim's own question (not identity variants, not a
person's decision) unless they say otherwise.

The four figures drawn from those answers (first check confirmed, time to verdict, verdicts by
week, reasons) are read from a daily rollup (``AnalyticsDay``, one row per institution, day in
Europe/Paris, kind and source, kept by ``verifications/services/analytics_rollup.py``) plus the
answers the rollup does not hold yet, counted live: those finished since its watermark
(``AnalyticsRollup.rolled_until``, a midnight: today's, once the beat has rolled yesterday), and
those of the period's first, partial day (the period starts at this very time N days ago). Both
go through the same ``cells`` function, so the rollup and the live count mean the same thing:

* *first check*: an answer is its claim's first when no answer to the same question has a
  smaller id. A question has at most one open request at a time (a unique constraint), so an
  answer's rank never changes once it has finished; only erasing an applicant removes answers,
  and the erasure rolls their days again.
* *time to verdict*: a log-scale histogram, ``BUCKETS_PER_DECADE`` buckets per factor of 10
  (each 12 % wide), holding per bucket its answers and the sum of their seconds. The median and
  the 90th percentile are read as ``statistics`` reads them from the values, each value taken
  as its bucket's mean: exact while a bucket holds one distinct value, otherwise within the
  bucket (12 %).

Availability (attempts), the night's verdict changes and the manual queue are counted live.
"""

import logging
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, Exists, FloatField, Min, OuterRef, Q, QuerySet
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
from verifications.models import (
    AnalyticsDay,
    AnalyticsPeriod,
    AnalyticsRollup,
    Claim,
    VerdictChange,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.verdicts import REASONS


logger = logging.getLogger(__name__)

PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
# The reasons worth a look, per source: the top few of each.
EXPLAINED_VERDICTS = (Verdict.NOT_FOUND, Verdict.MISMATCH, Verdict.UNAVAILABLE)
TOP_REASONS = 5
# Time to verdict: buckets per factor of 10 (10 ** (1 / 20) = 1.122: 12 % wide).
BUCKETS_PER_DECADE = 20
# How far a median or percentile read from the histogram may be from the exact one, at most.
DELAY_RESOLUTION_PERCENT = 12
# Delays of zero or less (clocks) share one bucket, below every other.
NON_POSITIVE_BUCKET = -10_000


@dataclass(frozen=True)
class Scope:
    institution_id: int
    since: datetime
    kind: str = ""  # one ClaimKind, or every kind

    @classmethod
    def last_days(cls, institution_id: int, days: int, kind: str = "") -> "Scope":
        return cls(institution_id, timezone.now() - timedelta(days=days), kind)


def source_answers_since(institution_id: int) -> QuerySet[VerificationRequest]:
    """Done checks of claims' own questions by a source (the answers the figures count)."""
    return VerificationRequest.objects.filter(
        institution_id=institution_id, state=RequestState.DONE, variant_key=""
    ).exclude(trigger__in=PERSON_TRIGGERS)


def _source_answers(scope: Scope) -> QuerySet[VerificationRequest]:
    """Done checks of claims' own questions by a source, finished in the period."""
    answers = source_answers_since(scope.institution_id).filter(finished_at__gte=scope.since)
    if scope.kind:
        answers = answers.filter(claim__kind=scope.kind)
    return answers


# --- Cells: the figures of one day, kind and source -------------------------------------------


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def delay_bucket(seconds: float) -> int:
    if seconds <= 0:
        return NON_POSITIVE_BUCKET
    return math.floor(math.log10(seconds) * BUCKETS_PER_DECADE)


@dataclass
class Cell:
    """The answers of one day, kind and source (an ``AnalyticsDay`` row, or a live count)."""

    verdicts: Counter[str] = field(default_factory=Counter)
    first_checked: int = 0
    first_confirmed: int = 0
    # bucket -> [answers, sum of seconds]
    delays: dict[int, list[float]] = field(default_factory=dict)
    # (verdict, reason code, error code, error status) -> answers
    reasons: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)


CellKey = tuple[date, str, str]  # day, kind, source


def answers_with_rank(answers: QuerySet[VerificationRequest]) -> Iterator[tuple[Any, ...]]:
    """The answers' fields the cells need, each with whether it was its claim's first."""
    earlier = (
        VerificationRequest.objects.filter(
            claim_id=OuterRef("claim_id"),
            state=RequestState.DONE,
            variant_key="",
            id__lt=OuterRef("id"),
        )
        .exclude(trigger__in=PERSON_TRIGGERS)
        .order_by()
    )
    rows = (
        answers.annotate(first=~Exists(earlier))
        .order_by()
        .values_list(
            "claim__kind",
            "source",
            "verdict",
            "reason_code",
            "reason_params__code",
            "reason_params__status",
            "created_at",
            "finished_at",
            "first",
        )
    )
    return rows.iterator(chunk_size=5000)


def cells(rows: Iterable[tuple[Any, ...]]) -> dict[CellKey, Cell]:
    """Answers (as ``answers_with_rank`` reads them) summed per day, kind and source."""
    found: dict[CellKey, Cell] = {}
    explained = set(EXPLAINED_VERDICTS)
    for kind, source, verdict, reason_code, code, status, created, finished, first in rows:
        if finished is None:  # a done request has finished
            continue
        cell = found.get(key := (local_day(finished), kind, source))
        if cell is None:
            cell = found[key] = Cell()
        cell.verdicts[verdict] += 1
        if first:
            cell.first_checked += 1
            cell.first_confirmed += verdict == Verdict.CONFIRMED
        seconds = (finished - created).total_seconds()
        bucket = cell.delays.setdefault(delay_bucket(seconds), [0, 0.0])
        bucket[0] += 1
        bucket[1] += seconds
        if verdict in explained:
            error = _is_provider_error(reason_code)
            cell.reasons[
                (
                    verdict,
                    reason_code,
                    str(code) if error and code is not None else "",
                    str(status) if error and status is not None else "",
                )
            ] += 1
    return found


def cell_from_row(row: AnalyticsDay) -> Cell:
    return Cell(
        verdicts=Counter(row.verdicts),
        first_checked=row.first_checked,
        first_confirmed=row.first_confirmed,
        delays={int(b): [n, total] for b, (n, total) in row.delays.items()},
        reasons=Counter({(v, r, c, s): n for v, r, c, s, n in row.reasons}),
    )


def cell_to_row(institution_id: int, key: CellKey, cell: Cell) -> AnalyticsDay:
    day, kind, source = key
    return AnalyticsDay(
        institution_id=institution_id,
        day=day,
        kind=kind,
        source=source,
        verdicts=dict(cell.verdicts),
        first_checked=cell.first_checked,
        first_confirmed=cell.first_confirmed,
        delays={str(b): pair for b, pair in cell.delays.items()},
        reasons=[[*key, n] for key, n in sorted(cell.reasons.items())],
    )


# --- The figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindShare:
    kind: str
    checked: int
    confirmed: int

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.checked) if self.checked else 0


@dataclass(frozen=True)
class KindDelay:
    kind: str
    checks: int
    median_seconds: float
    p90_seconds: float


@dataclass
class Week:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ReasonCount:
    source: str
    verdict: str
    reason_code: str
    # The provider's error (code, HTTP status) for the reasons that are one; empty otherwise.
    error_code: str
    error_status: str
    count: int


@dataclass(frozen=True)
class Answers:
    """The figures drawn from the sources' answers in a scope."""

    first: list[KindShare]
    delays: list[KindDelay]
    weeks: list[Week]
    reasons: list[ReasonCount]


@dataclass
class Fold:
    """Cells summed over days: what the four figures are read from. Kept as it is for each
    period the page offers (``AnalyticsPeriod``), so that a page adds only its live cells."""

    first: dict[str, list[int]] = field(default_factory=dict)
    delays: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    weeks: dict[date, Counter[str]] = field(default_factory=dict)
    reasons: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)

    def add(self, key: CellKey, cell: Cell) -> None:
        day, kind, source = key
        if cell.first_checked:
            shares = self.first.setdefault(kind, [0, 0])
            shares[0] += cell.first_checked
            shares[1] += cell.first_confirmed
        histogram = self.delays.setdefault(kind, {})
        for b, (n, total) in cell.delays.items():
            pair = histogram.setdefault(b, [0, 0.0])
            pair[0] += n
            pair[1] += total
        monday = day - timedelta(days=day.weekday())
        self.weeks.setdefault(monday, Counter()).update(cell.verdicts)
        for (verdict, reason_code, code, status), n in cell.reasons.items():
            self.reasons[(source, verdict, reason_code, code, status)] += n

    def answers(self) -> Answers:
        return Answers(
            first=[KindShare(kind, *self.first[kind]) for kind in ClaimKind if kind in self.first],
            delays=[
                _kind_delay(kind, self.delays[kind]) for kind in ClaimKind if self.delays.get(kind)
            ],
            weeks=[
                Week(day_start(monday), dict(counts))
                for monday, counts in sorted(self.weeks.items())
                if counts
            ],
            reasons=_top_reasons(self.reasons),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "delays": {k: {str(b): p for b, p in h.items()} for k, h in self.delays.items()},
            "weeks": {d.isoformat(): dict(c) for d, c in self.weeks.items()},
            "reasons": [[*key, n] for key, n in sorted(self.reasons.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fold":
        return cls(
            first={k: list(v) for k, v in data["first"].items()},
            delays={k: {int(b): list(p) for b, p in h.items()} for k, h in data["delays"].items()},
            weeks={date.fromisoformat(d): Counter(c) for d, c in data["weeks"].items()},
            reasons=Counter({tuple(r[:5]): r[5] for r in data["reasons"]}),
        )


def fold_days(institution_id: int, after: date, until: date, kind: str = "") -> Fold:
    """The rollup's days after ``after`` and before ``until``, summed."""
    fold = Fold()
    days = AnalyticsDay.objects.filter(institution_id=institution_id, day__gt=after, day__lt=until)
    if kind:
        days = days.filter(kind=kind)
    for row in days.order_by().defer("id", "institution"):
        fold.add((row.day, row.kind, row.source), cell_from_row(row))
    return fold


def _rolled_fold(scope: Scope, first_day: date, rolled_until: date) -> Fold:
    """The rollup's whole days of the scope: the period's own sum when the last roll kept it
    (the usual case), else summed from the days."""
    kept = (
        AnalyticsPeriod.objects.filter(
            institution_id=scope.institution_id,
            kind=scope.kind,
            after_day=first_day,
            until_day=rolled_until,
        )
        .values_list("fold", flat=True)
        .first()
    )
    if kept is not None:
        return Fold.from_json(kept)
    return fold_days(scope.institution_id, first_day, rolled_until, scope.kind)


def answers(scope: Scope) -> Answers:
    """The four figures of the sources' answers in the scope, read together: whole days from
    the rollup, the rest (the period's first day from its first instant, and every day from the
    watermark) counted."""
    first_day = local_day(scope.since)
    rolled_until = (
        AnalyticsRollup.objects.filter(institution_id=scope.institution_id)
        .values_list("rolled_until", flat=True)
        .first()
    )
    live = _source_answers(scope)
    if rolled_until is None or rolled_until <= first_day + timedelta(days=1):
        fold = Fold()
        parts = [live]
    else:
        fold = _rolled_fold(scope, first_day, rolled_until)
        # Two plain ranges, not one OR: PostgreSQL estimates each from the index's statistics
        # (an OR of ranges was estimated at hundreds of times its rows, and planned as a scan).
        parts = [
            live.filter(finished_at__lt=day_start(first_day + timedelta(days=1))),
            live.filter(finished_at__gte=day_start(rolled_until)),
        ]
    for part in parts:
        for key, cell in cells(answers_with_rank(part)).items():
            fold.add(key, cell)
    return fold.answers()


def first_check_confirmed(scope: Scope) -> list[KindShare]:
    """Per kind, the claims first checked in the period and how many the first answer
    confirmed."""
    return answers(scope).first


def time_to_verdict(scope: Scope) -> list[KindDelay]:
    """Per kind, the time from a check's request to its verdict: median and 90th percentile."""
    return answers(scope).delays


def verdicts_by_week(scope: Scope) -> list[Week]:
    """The sources' verdicts, week by week (weeks start on Monday)."""
    return answers(scope).weeks


def top_reasons(scope: Scope) -> list[ReasonCount]:
    """For "not found", "mismatch" and "unavailable", the commonest reasons per source; a
    provider error counts per error code (a reason's other details, such as the year a source
    echoed, vary from one applicant to the next and are not counted apart)."""
    return answers(scope).reasons


def _percentile(values: list[float], share: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


class _Sorted:
    """A histogram read as the sorted list of its values, each its bucket's mean."""

    def __init__(self, histogram: dict[int, list[float]]) -> None:
        self.ends: list[int] = []
        self.means: list[float] = []
        count = 0
        for _b, (n, total) in sorted(histogram.items()):
            if n:
                count += int(n)
                self.ends.append(count)
                self.means.append(total / n)
        self.count = count

    def __getitem__(self, index: int) -> float:
        for end, mean in zip(self.ends, self.means, strict=True):
            if index < end:
                return mean
        raise IndexError(index)

    def median(self) -> float:
        # As statistics.median.
        n = self.count
        if n % 2:
            return self[n // 2]
        return (self[n // 2 - 1] + self[n // 2]) / 2

    def percentile(self, share: float) -> float:
        # As statistics.quantiles(n=100, method="inclusive"), through _percentile.
        if self.count == 1:
            return self[0]
        i = round(share * 100)
        j, delta = divmod(i * (self.count - 1), 100)
        return (self[j] * (100 - delta) + self[j + 1] * delta) / 100


def _kind_delay(kind: str, histogram: dict[int, list[float]]) -> KindDelay:
    values = _Sorted(histogram)
    return KindDelay(kind, values.count, values.median(), values.percentile(0.9))


def _is_provider_error(reason_code: str) -> bool:
    return reason_code in REASONS and "%(error)s" in str(REASONS[reason_code])


def _top_reasons(counts: Counter[tuple[str, str, str, str, str]]) -> list[ReasonCount]:
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
    counted_at: datetime | None = None


# The manual queue reads every claim waiting for a person (200,000 in the pages benchmark: about
# 200 ms): it is counted as the dashboard's counts are (admissions/dashboard_counts.py), once
# for the institution's users, kept in the cache ``VIGIE_DASHBOARD_COUNTS_SECONDS`` (30 s),
# then still served while a worker counts it again, up to QUEUE_STALE_FACTOR times that; counted
# by the view itself only when there is none or it is older. The page says when it was counted.
QUEUE_STALE_FACTOR = 10
QUEUE_RECOUNT_TASK = "verifications.analytics_queue_recount"


def _queue_key(institution_id: int, kind: str) -> str:
    return f"vigie:analytics-queue:{institution_id}:{kind}"


def manual_queue_recount(institution_id: int, kind: str = "") -> ManualQueue:
    """Count the manual queue now, and keep it for the institution's users."""
    queue = _manual_queue_count(Scope(institution_id, timezone.now(), kind))
    fresh_for = settings.VIGIE_DASHBOARD_COUNTS_SECONDS
    if fresh_for > 0:
        key = _queue_key(institution_id, kind)
        cache.set(key, queue, timeout=fresh_for * QUEUE_STALE_FACTOR)
        cache.delete(key + ":recounting")
    return queue


def manual_queue(scope: Scope) -> ManualQueue:
    """The claims waiting for a person (a verdict that needs one), now, and how long they have
    waited since their check: counted a few seconds ago at most (see above)."""
    fresh_for = settings.VIGIE_DASHBOARD_COUNTS_SECONDS
    key = _queue_key(scope.institution_id, scope.kind)
    queue = cache.get(key) if fresh_for > 0 else None
    if queue is None or queue.counted_at is None:
        return manual_queue_recount(scope.institution_id, scope.kind)
    age = (timezone.now() - queue.counted_at).total_seconds()
    if age > fresh_for * QUEUE_STALE_FACTOR:
        return manual_queue_recount(scope.institution_id, scope.kind)
    if age >= fresh_for and cache.add(key + ":recounting", 1, fresh_for):
        try:
            current_app.tasks[QUEUE_RECOUNT_TASK].apply_async(
                args=(scope.institution_id, scope.kind), retry=False
            )
        except Exception:
            # No broker: counted on a view once it is too old.
            logger.warning("analytics queue of %s: recount not sent", scope.institution_id)
            cache.delete(key + ":recounting")
    return queue


class _MedianEpoch(Aggregate):
    """PostgreSQL: the median of a timestamp column, in seconds since the epoch."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


def _manual_queue_count(scope: Scope) -> ManualQueue:
    claims = Claim.objects.filter(
        institution_id=scope.institution_id, verdict__in=VERDICTS_NEEDING_ATTENTION
    )
    if scope.kind:
        claims = claims.filter(kind=scope.kind)
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One pass, in the database: the median of the check times is the median of the ages
        # (statistics.median's mean of the two middle values: percentile_cont).
        found = claims.aggregate(
            count=Count("*"), oldest=Min("verified_at"), median=_MedianEpoch("verified_at")
        )
        count, oldest, median_epoch = found["count"], found["oldest"], found["median"]
        median_age = (now.timestamp() - median_epoch) / 86400 if median_epoch is not None else 0.0
        return ManualQueue(count, oldest, median_age, counted_at=now)
    checked = [
        c
        for c in claims.exclude(verified_at=None).values_list("verified_at", flat=True)
        if c is not None
    ]
    ages = sorted((now - c).total_seconds() / 86400 for c in checked)
    return ManualQueue(
        claims=claims.count(),
        oldest=min(checked, default=None),
        median_age_days=statistics.median(ages) if ages else 0.0,
        counted_at=now,
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
