"""The dispatcher: sends pending requests to the workers at the pace the sources allow.

Run by beat every VERIFICATION_DISPATCH_INTERVAL seconds and kicked when a batch starts. For
each source it keeps about VERIFICATION_DISPATCH_LOOKAHEAD seconds of work (at the source's
allowed rate) in the broker, so that a batch of 10,000 never floods the queue, a slow source
never holds the workers of a fast one, and a lost message costs a minute, not a batch.

It also reclaims requests whose worker died mid-call (lease expired) and re-sends pending
requests whose message was lost (broker restarted, filesystem transport killed). The limiter,
not the dispatcher, is what guarantees the upstream limits.
"""

import logging
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from admissions.enums import BatchStatus, Source
from admissions.models import Batch
from verifications.enums import RequestState
from verifications.models import VerificationRequest
from verifications.providers.limits import get_limiter


logger = logging.getLogger(__name__)
# Even a slow source gets this many messages in flight, so workers are never idle for it.
MIN_IN_FLIGHT = 4
# Upstream calls one check makes at most (Certif Info: a search, then the detail); each takes
# a slot of the source's limits.
CALLS_PER_CHECK = {Source.CERTIFINFO: 2}


@dataclass
class DispatchReport:
    reclaimed: int = 0
    sent: dict[str, int] = field(default_factory=dict)


def _reclaim_expired_leases(now) -> int:
    expired = now - settings.VERIFICATION_LEASE
    reclaimed = VerificationRequest.objects.filter(
        state=RequestState.RUNNING, claimed_at__lt=expired
    ).update(
        state=RequestState.PENDING,
        claimed_by="",
        claimed_at=None,
        enqueued_at=None,
        not_before=now,
    )
    if reclaimed:
        logger.warning("reclaimed %s requests whose worker stopped mid-call", reclaimed)
    return reclaimed


def source_rate(source: str) -> float:
    """The most requests per second the configured limits allow for ``source`` (the tightest
    of its rates); unlimited sources count as 50/s, more than a few workers can do anyway."""
    rates = [
        rate.limit / rate.window
        for scope_rates in get_limiter().config.rates.get(source, {}).values()
        for rate in scope_rates
    ]
    return min(rates, default=50.0)


def check_rate(source: str) -> float:
    """Checks per second the source's limits allow."""
    return source_rate(source) / CALLS_PER_CHECK.get(source, 1)


def _capacity(source: str) -> int:
    rate = check_rate(source)
    return max(MIN_IN_FLIGHT, math.ceil(rate * settings.VERIFICATION_DISPATCH_LOOKAHEAD))


def _dispatch_source(source: str, now) -> list[int]:
    stale = now - settings.VERIFICATION_STALE_ENQUEUE
    pending = VerificationRequest.objects.filter(state=RequestState.PENDING, source=source)
    in_broker = pending.filter(enqueued_at__gte=stale).count()
    room = _capacity(source) - in_broker
    if room <= 0:
        return []
    paused = Batch.objects.filter(status=BatchStatus.PAUSED).values("id")
    due = (
        pending.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
        .exclude(batch_id__in=paused)
        .order_by(F("not_before").asc(nulls_first=True), "id")
    )
    with transaction.atomic():
        locked = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(locked.values_list("id", flat=True)[:room])
        if ids:
            VerificationRequest.objects.filter(pk__in=ids, state=RequestState.PENDING).update(
                enqueued_at=now
            )
    return ids


def verification_dispatch() -> DispatchReport:
    """One dispatcher tick. Returns what it did (for logs and tests)."""
    from verifications.tasks import verification_run_task

    now = timezone.now()
    report = DispatchReport(reclaimed=_reclaim_expired_leases(now))
    batches = {}
    for source in Source:
        ids = _dispatch_source(source, now)
        if ids:
            batches[source] = ids
            report.sent[source] = len(ids)
    for request_id in interleave(batches, {source: check_rate(source) for source in batches}):
        verification_run_task.apply_async(args=[request_id])
    return report


def interleave(batches: dict[str, list[int]], rates: dict[str, float]) -> list[int]:
    """The requests of every source in one sequence, in the order their slots come: the k-th
    request of a source at k / rate seconds. The workers share one queue and take messages in
    order; source after source, a worker would wait in turn for each slow source's slots while
    the fast ones' requests queue behind it."""
    timed = [
        (k / rates[source], position, request_id)
        for position, (source, ids) in enumerate(batches.items())
        for k, request_id in enumerate(ids)
    ]
    return [request_id for _t, _p, request_id in sorted(timed)]
