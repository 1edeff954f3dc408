"""Scheduled re-verification: one beat tick queues the claims that are due, at night, at a
bounded share of each source's rate (rules and defaults in ``verifications.freshness``).

For each institution whose night window is open, and each kind whose policy is enabled and
whose source the institution uses, the tick takes the claims due (oldest check first) and asks
for them with ``trigger=scheduled``, at most

    budget = floor(share * the source's rate * the tick's interval)

per source and tick, all institutions together (an institution's share bounds what it adds, and
what earlier institutions of the same tick queued counts against it), minus the scheduled
re-checks of that source still open from earlier ticks: the backlog never exceeds one tick.
Requests get staggered ``not_before`` times (one every 1 / (share * rate) seconds), so within
the tick too they use no more than their share of the source (to the dispatcher's granularity:
it sends what is due every couple of seconds; tests/workers/test_scheduled_workers.py measures
it at the sandbox). A claim that already has an
open request is never queued again (the selector skips it, and ``verification_requests_create``
checks again under the unique constraint), so running the tick twice queues nothing twice.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from admissions.models import Institution
from verifications import freshness
from verifications.enums import CLAIM_KIND_SOURCE, ClaimKind, RequestState, Trigger
from verifications.models import VerificationRequest
from verifications.rates import source_rate
from verifications.selectors import claims_due_for_recheck, open_scheduled_by_source
from verifications.services.policies import freshness_policies_get, institution_policy_get
from verifications.services.requests import verification_requests_create


logger = logging.getLogger(__name__)
PURPOSE = "re-vérification planifiée"


@dataclass
class RecheckReport:
    """What one tick did: requests queued per source, institutions outside their window."""

    queued: dict[str, int] = field(default_factory=dict)
    outside_window: list[int] = field(default_factory=list)


def _stagger(ids: list[int], *, start: datetime, step: float) -> None:
    rows = list(VerificationRequest.objects.filter(pk__in=ids).order_by("id"))
    for i, row in enumerate(rows):
        row.not_before = start + timedelta(seconds=i * step)
    VerificationRequest.objects.bulk_update(rows, ["not_before"], batch_size=1000)


def scheduled_reverification_tick(*, now: datetime | None = None) -> RecheckReport:
    now = now or timezone.now()
    report = RecheckReport()
    open_before = open_scheduled_by_source()
    used: dict[str, int] = {}
    # Where each source's staggered re-checks of this tick start (after the previous batch).
    next_slot: dict[str, datetime] = {}
    for institution in Institution.objects.order_by("id"):
        policy = institution_policy_get(institution)
        zone = ZoneInfo(policy.timezone)
        if not freshness.in_night_window(now, policy.night_start, policy.night_end, zone):
            report.outside_window.append(institution.pk)
            continue
        for kind, rules in freshness_policies_get(institution).items():
            source = CLAIM_KIND_SOURCE[ClaimKind(kind)]
            if not rules.enabled or not institution.source_enabled(source):
                continue
            rate = source_rate(source)
            budget = freshness.scheduled_budget(
                rate_per_second=rate,
                share_percent=policy.scheduled_share,
                seconds=freshness.RECHECK_TICK_SECONDS,
            )
            room = budget - used.get(source, 0) - open_before.get(source, 0)
            if room <= 0:
                continue
            cutoff = freshness.recheck_cutoff(rules, now, zone)
            claims = list(
                claims_due_for_recheck(
                    institution_id=institution.pk, kind=kind, cutoff=cutoff, now=now
                ).select_related("institution")[:room]
            )
            if not claims:
                continue
            with transaction.atomic():
                created = verification_requests_create(
                    claims=claims, acting_user=None, trigger=Trigger.SCHEDULED, purpose=PURPOSE
                )
                ids = list(
                    VerificationRequest.objects.filter(
                        claim__in=claims,
                        trigger=Trigger.SCHEDULED,
                        state=RequestState.PENDING,
                        not_before__isnull=True,
                    ).values_list("id", flat=True)
                )
                step = freshness.spacing(rate_per_second=rate, share_percent=policy.scheduled_share)
                start = next_slot.get(source, now)
                _stagger(ids, start=start, step=step)
                next_slot[source] = start + timedelta(seconds=len(ids) * step)
            used[source] = used.get(source, 0) + created
            report.queued[source] = report.queued.get(source, 0) + created
    if report.queued:
        logger.info("scheduled re-verification queued %s", report.queued)
    return report
