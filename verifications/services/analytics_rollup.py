"""The analytics page's daily rollup (``AnalyticsDay``; what it holds and how the page reads it:
``verifications/analytics.py``).

A beat tick (``verifications-analytics-rollup``, every 10 minutes) rolls each institution's
finished days up to its watermark, ``AnalyticsRollup.rolled_until``: once a day, a few minutes
after midnight (``SETTLE``, for the transactions that finished a request just before midnight
to commit), yesterday's answers are counted into their rows and the watermark moves to today.
Nothing is written where a check finishes: the page counts the answers since the watermark
itself. A tick with nothing to roll reads two small tables.

``analytics_rollup_rebuild`` (``manage.py analytics_rollup --rebuild``) counts an institution's
days again from the requests; ``analytics_rollup_forget`` counts again the days of answers an
erasure deleted, in the erasure's transaction.
"""

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from admissions.models import Institution
from verifications import analytics
from verifications.enums import ClaimKind
from verifications.models import AnalyticsDay, AnalyticsPeriod, AnalyticsRollup


logger = logging.getLogger(__name__)

SETTLE = timedelta(minutes=5)
NEVER = date(1970, 1, 1)


def rollup_until(now: datetime) -> date:
    """The watermark a roll at ``now`` reaches: today once today is SETTLE old."""
    today = analytics.local_day(now)
    if now >= analytics.day_start(today) + SETTLE:
        return today
    return today - timedelta(days=1)


def _count_days(institution_id: int, start: date | None, end: date) -> int:
    """Count the answers finished from ``start`` (the beginning when None) to ``end``
    (excluded) into their rows, replacing those days' rows."""
    answers = analytics.source_answers_since(institution_id).filter(
        finished_at__lt=analytics.day_start(end)
    )
    rows = AnalyticsDay.objects.filter(institution_id=institution_id, day__lt=end)
    if start is not None:
        answers = answers.filter(finished_at__gte=analytics.day_start(start))
        rows = rows.filter(day__gte=start)
    found = analytics.cells(analytics.answers_with_rank(answers))
    rows.delete()
    AnalyticsDay.objects.bulk_create(
        [analytics.cell_to_row(institution_id, key, cell) for key, cell in found.items()],
        batch_size=1000,
    )
    return len(found)


def analytics_rollup_institution(
    *, institution_id: int, now: datetime | None = None, rebuild: bool = False
) -> int:
    """Roll the institution's days up to today (all of them again with ``rebuild``); the
    number of rows written."""
    until = rollup_until(now or timezone.now())
    AnalyticsRollup.objects.get_or_create(
        institution_id=institution_id, defaults={"rolled_until": NEVER}
    )
    with transaction.atomic():
        state = AnalyticsRollup.objects.select_for_update().get(institution_id=institution_id)
        if not rebuild and state.rolled_until >= until:
            return 0
        start = None if rebuild or state.rolled_until == NEVER else state.rolled_until
        if start is None:
            AnalyticsDay.objects.filter(institution_id=institution_id).delete()
        written = _count_days(institution_id, start, until)
        state.rolled_until = until
        state.save(update_fields=["rolled_until", "updated_at"])
        _keep_periods(institution_id, until)
    return written


def _keep_periods(institution_id: int, until: date) -> None:
    """Sum the rollup's days for each period the page offers and each kind (one pass over the
    longest period's days)."""
    folds = {
        (days, kind): analytics.Fold() for days in analytics.PERIODS for kind in ["", *ClaimKind]
    }
    longest = max(analytics.PERIODS)
    rows = AnalyticsDay.objects.filter(
        institution_id=institution_id, day__gt=until - timedelta(days=longest), day__lt=until
    )
    for row in rows.order_by().defer("id", "institution").iterator(chunk_size=2000):
        cell = analytics.cell_from_row(row)
        key = (row.day, row.kind, row.source)
        for days in analytics.PERIODS:
            if row.day > until - timedelta(days=days):
                folds[(days, "")].add(key, cell)
                folds[(days, row.kind)].add(key, cell)
    AnalyticsPeriod.objects.filter(institution_id=institution_id).delete()
    AnalyticsPeriod.objects.bulk_create(
        [
            AnalyticsPeriod(
                institution_id=institution_id,
                kind=kind,
                after_day=until - timedelta(days=days),
                until_day=until,
                fold=fold.to_json(),
            )
            for (days, kind), fold in folds.items()
        ]
    )


def analytics_rollup_rebuild(*, institution_id: int, now: datetime | None = None) -> int:
    return analytics_rollup_institution(institution_id=institution_id, now=now, rebuild=True)


def analytics_rollup_tick(*, now: datetime | None = None) -> dict[int, int]:
    """Roll every institution that is behind (the beat's tick)."""
    until = rollup_until(now or timezone.now())
    rolled = AnalyticsRollup.objects.filter(rolled_until__gte=until).values("institution_id")
    report = {}
    for institution_id in (
        Institution.objects.exclude(pk__in=rolled).order_by("id").values_list("id", flat=True)
    ):
        report[institution_id] = analytics_rollup_institution(
            institution_id=institution_id, now=now
        )
        logger.info(
            "analytics of institution %s rolled up to %s: %s rows",
            institution_id,
            until,
            report[institution_id],
        )
    return report


def analytics_rollup_forget(*, institution_id: int, days: Iterable[date]) -> None:
    """Count again these days of the rollup (answers were deleted). In the caller's
    transaction."""
    state = (
        AnalyticsRollup.objects.select_for_update().filter(institution_id=institution_id).first()
    )
    if state is None:
        return
    counted = False
    for day in sorted(set(days)):
        if day < state.rolled_until:
            _count_days(institution_id, day, day + timedelta(days=1))
            counted = True
    if counted:
        _keep_periods(institution_id, state.rolled_until)
