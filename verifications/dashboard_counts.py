"""The dashboard's counts of applicants and claims, kept warm for the institution's users.

Counting reads every claim of the institution: an index-only scan, about 80 ms at 400,000
claims, more while a batch keeps the machine busy (docs/PERFORMANCE.md). Every user of the
institution sees the same numbers, so they are counted once and kept in the cache:

* younger than ``VIGIE_DASHBOARD_COUNTS_SECONDS`` (30 s): served as they are;
* older, up to ``STALE_FACTOR`` times that (5 min): still served, and one recount is sent to a
  worker (the task ``admissions.dashboard_counts_refresh``, a name kept from when this module was
  the applicant domain's, so that no queued message is orphaned), so that no clerk waits for it;
* older still, or none (first view, cache emptied, no worker running): counted there and then.

The page says when they were counted. Counts only: nothing personal goes to the cache.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from admissions.models import Applicant, User
from verifications.enums import VERDICTS_NEEDING_ATTENTION
from verifications.models import Claim


logger = logging.getLogger(__name__)

STALE_FACTOR = 10
# The worker's recount (``verifications/tasks.py``), sent by name: the tasks module imports this
# one, not the reverse. ``VerificationsConfig.ready`` registers it in every process.
RECOUNT_TASK = "admissions.dashboard_counts_refresh"


@dataclass(frozen=True)
class DashboardCounts:
    by_kind_and_verdict: dict[tuple[str, str], int]
    applicants: int
    computed_at: datetime

    @property
    def needing_attention(self) -> int:
        return sum(
            n
            for (_kind, verdict), n in self.by_kind_and_verdict.items()
            if verdict in VERDICTS_NEEDING_ATTENTION
        )


def _key(institution_id: int) -> str:
    return f"vigie:dashboard-counts:{institution_id}"


def _recounting_key(institution_id: int) -> str:
    return f"vigie:dashboard-counts:{institution_id}:recounting"


def dashboard_counts_recount(institution_id: int) -> DashboardCounts:
    """Count now, and keep the result for the institution's users."""
    # COUNT(*), not COUNT(id): PostgreSQL can then answer from the claim_by_kind index alone
    # (index-only scan), without reading the rows (bench: 400,000 claims, about 40 % faster).
    rows = (
        Claim.objects.filter(institution_id=institution_id)
        .order_by()
        .values("kind", "verdict")
        .annotate(n=Count("*"))
    )
    counts = DashboardCounts(
        by_kind_and_verdict={(row["kind"], row["verdict"]): row["n"] for row in rows},
        applicants=Applicant.objects.filter(institution_id=institution_id).count(),
        computed_at=timezone.now(),
    )
    fresh_for = settings.VIGIE_DASHBOARD_COUNTS_SECONDS
    if fresh_for > 0:
        cache.set(_key(institution_id), counts, timeout=fresh_for * STALE_FACTOR)
        cache.delete(_recounting_key(institution_id))
    return counts


def dashboard_counts(user: User) -> DashboardCounts:
    """The counts of the user's institution (nothing for a user without one)."""
    if not user.is_authenticated or user.institution_id is None:
        return DashboardCounts({}, 0, timezone.now())
    institution_id = user.institution_id
    fresh_for = settings.VIGIE_DASHBOARD_COUNTS_SECONDS
    counts = cache.get(_key(institution_id)) if fresh_for > 0 else None
    if counts is None:
        return dashboard_counts_recount(institution_id)
    age = (timezone.now() - counts.computed_at).total_seconds()
    if age > fresh_for * STALE_FACTOR:
        return dashboard_counts_recount(institution_id)
    if age >= fresh_for and cache.add(_recounting_key(institution_id), 1, fresh_for):
        _recount_later(institution_id)
    return counts


def _recount_later(institution_id: int) -> None:
    try:
        current_app.tasks[RECOUNT_TASK].apply_async(args=(institution_id,), retry=False)
    except Exception:
        # No broker: the counts are recounted on a view once they are too old.
        logger.warning("dashboard counts of institution %s: recount not sent", institution_id)
        cache.delete(_recounting_key(institution_id))
