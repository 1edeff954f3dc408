"""The dispatcher: sends pending requests to the workers at the pace the sources allow.

Run by beat every VERIFICATION_DISPATCH_INTERVAL seconds and kicked when a batch starts. For
each source it keeps about VERIFICATION_DISPATCH_LOOKAHEAD seconds of work (at the source's
allowed rate) in the broker, so that a batch of 10,000 never floods the queue, a slow source
never holds the workers of a fast one, and a lost message costs a minute, not a batch.

It also reclaims requests whose worker died mid-call (lease expired) and re-sends pending
requests whose message was lost (broker restarted, filesystem transport killed). The limiter,
not the dispatcher, is what guarantees the upstream limits.

A broker outage costs about its own length, not a minute more (docs/DEPLOYMENT.md, "Broker
outage"): a send that fails gives its request back at once (``enqueued_at`` cleared, so the
next tick sends it again), and a Redis broker that comes back empty (restarted without
persistence, flushed) is noticed at the first tick, by a key of ours that vanished with the
messages (``BROKER_EPOCH_KEY``): every request marked as sent before is sent again then, rather
than once its mark goes stale (``VERIFICATION_STALE_ENQUEUE``). A message sent twice is
harmless: a run claims its row conditionally, the second finds nothing to do.
"""

import logging
import math
import secrets
from dataclasses import dataclass, field
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from verifications.enqueue import broker_url, verification_run_enqueue
from verifications.enums import BatchStatus, RequestState, Source
from verifications.models import Batch, VerificationRequest
from verifications.rates import check_rate


logger = logging.getLogger(__name__)
# Even a slow source gets this many messages in flight, so workers are never idle for it.
MIN_IN_FLIGHT = 4
# Written in the broker's own Redis database by the first tick that finds it missing: it
# disappears exactly when the queued messages do.
BROKER_EPOCH_KEY = "vigie:broker-epoch"


@cache
def _broker_redis(url: str) -> redis.Redis | None:
    """A client of the broker's Redis (short timeouts: a tick must not hang on it), or None
    when the broker is not Redis (the SQLite and filesystem transports keep their messages)."""
    if not url.startswith(("redis://", "rediss://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


def broker_restarted_empty() -> bool:
    """Whether the broker lost every message since the last tick: our epoch key is gone with
    them. True once per loss (SET NX: the first tick to see it missing writes it again); False
    when the broker is not Redis or cannot be reached (the sends will fail and say so)."""
    client = _broker_redis(broker_url())
    if client is None:
        return False
    try:
        return bool(client.set(BROKER_EPOCH_KEY, secrets.token_hex(8), nx=True))
    except redis.RedisError:
        return False


def _resend_lost(now) -> int:
    """The broker came back empty: the messages of the requests marked as sent are gone."""
    lost = VerificationRequest.objects.filter(
        state=RequestState.PENDING, enqueued_at__isnull=False, enqueued_at__lt=now
    ).update(enqueued_at=None)
    if lost:
        logger.warning("the broker restarted empty: %s requests sent before are sent again", lost)
    return lost


@dataclass
class DispatchReport:
    reclaimed: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    # Marked as sent, then the broker refused them: given back for the next tick.
    unsent: int = 0
    # Marked as sent before the broker restarted empty: sent again.
    resent: int = 0


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
    now = timezone.now()
    report = DispatchReport(reclaimed=_reclaim_expired_leases(now))
    if broker_restarted_empty():
        report.resent = _resend_lost(now)
    batches: dict[str, list[int]] = {}
    for source in Source:
        ids = _dispatch_source(source, now)
        if ids:
            batches[source] = ids
            report.sent[source] = len(ids)
    order = interleave(batches, {source: check_rate(source) for source in batches})
    for position, request_id in enumerate(order):
        try:
            verification_run_enqueue(request_id)
        except Exception as exc:
            # The broker is down (kombu's OperationalError once its publish retries are
            # spent): this and the rest of the tick's requests were never sent.
            report.unsent = _give_back(order[position:], now)
            logger.warning(
                "broker unavailable (%s): %s requests given back for the next tick",
                exc,
                report.unsent,
            )
            break
    return report


def _give_back(ids: list[int], now) -> int:
    """Clear the sent mark of requests whose message did not leave: the next tick sends them
    (only if it is still this tick's mark: a request taken or sent since is left alone)."""
    return VerificationRequest.objects.filter(
        pk__in=ids, state=RequestState.PENDING, enqueued_at=now
    ).update(enqueued_at=None)


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
