"""Why hasn't my request run? The gates a request passes, in order, before its upstream call.

The dispatcher (``services/dispatch.py``) sends a ``pending`` request's task message once it
is due, at the pace its source allows; the worker that takes the message then runs it through
these gates. Each gate that stops a request leaves a trace where you can look:

=  ==========  ===============================================  ===================================
#  gate        stops the request while                          then, and where to look
=  ==========  ===============================================  ===================================
1  pause       its batch is paused                              skipped; sent again on resume
                                                                (``Batch.status``)
2  lease       another worker holds it (``running``, its lease  skipped; the lease expires after
               of ``VERIFICATION_LEASE`` not expired)           ``VERIFICATION_LEASE`` and the
                                                                dispatcher reclaims it
                                                                (``claimed_by``, ``claimed_at``)
3  not_before  it is not due (a retry delay, a deferral)        skipped (``not_before``)
4  hold        an identical request (same source, credential    deferred 1 s, reason
               and parameters) is in flight                     ``identical_in_flight``
5  breaker     the source's circuit breaker is open (or         deferred until the probe or the
               half-open with its one probe out), or a 429      end of the cooldown, reason
               paused the whole source (a cooldown)             ``breaker:<source>`` or
                                                                ``cooldown:<source>``; behind an
                                                                open breaker for longer than
                                                                ``VERIFICATION_GIVE_UP_AFTER``:
                                                                ends ``unavailable``
                                                                (``source.down``)
6  limiter     no slot in the source's rates (per source,       deferred by the wait, reason
               credential, egress IP, and the budget the        ``rate:<source>:<scope>``
               server announced in its ``RateLimit-*``          (``unavailable:limiter`` when the
               headers)                                         limiter cannot be reached)
=  ==========  ===============================================  ===================================

Gates 1 to 3 are one conditional update, :func:`claim`: a request that does not pass them is
not touched, and a duplicate or redelivered message finds nothing to do. Gates 4 to 6 are
:func:`admit_call`: it waits in process for at most ``VERIFICATION_MAX_INPROCESS_WAIT`` seconds
(the ``verify`` command: its ``--max-wait``), then gives up with :class:`NotAdmitted`; the
worker sends the request back to ``pending`` with ``not_before`` (``pipeline.record.defer``),
without counting an attempt or a failure. The source's health page shows the breaker, the
cooldown and the rate use of gates 5 and 6.

A check that makes several upstream calls (Certif Info: a search, then the detail) passes
gate 6 again before each call after the first (:func:`admit_follow_up`).

Not gates: a source the institution disabled, or one Vigie is not configured to call, ends the
request ``rejected`` (``source.not_configured``) without a call; ``pipeline.classify`` says so.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection

from verifications.enums import BatchStatus, RequestState
from verifications.models import Batch, VerificationRequest
from verifications.providers.base import ProviderConfig, ProviderUnavailable, Query
from verifications.providers.limits import Admission, get_limiter, send_delay


# --- Gates 1 to 3: the claim ------------------------------------------------------------------


def claim(request_id: int, worker: str, now: datetime) -> bool:
    """Take the row for ``worker``, unless its batch is paused (1), someone else holds it (2)
    or it is not due (3). A message sent before a pause is skipped: the dispatcher sends the
    request again on resume."""
    lease_expired_before = now - settings.VERIFICATION_LEASE
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            [
                RequestState.RUNNING.value,
                adapt(now),
                worker,
                request_id,
                RequestState.PENDING.value,
                adapt(now),
                RequestState.RUNNING.value,
                adapt(lease_expired_before),
                BatchStatus.PAUSED.value,
            ],
        )
        return bool(cursor.rowcount == 1)


# ``claim`` as the ORM wrote it (``filter(due | abandoned, pk=...).exclude(batch_id__in=
# paused).update(...)``), written out once: compiling it cost a tenth of a check's CPU.
_CLAIM_SQL = f"""
UPDATE {VerificationRequest._meta.db_table}
SET state = %s, claimed_at = %s, claimed_by = %s
WHERE id = %s
  AND ((state = %s AND (not_before IS NULL OR not_before <= %s))
       OR (state = %s AND claimed_at < %s))
  AND NOT (batch_id IS NOT NULL
           AND batch_id IN (SELECT id FROM {Batch._meta.db_table} WHERE status = %s))
"""  # noqa: S608 - table names from the models, values as parameters


# --- Gates 4 to 6: the admission of a call ----------------------------------------------------

# The reason of a request deferred by gate 4, and how long it waits.
IDENTICAL_IN_FLIGHT = "identical_in_flight"
IDENTICAL_IN_FLIGHT_WAIT = 1.0


class NotAdmitted(ProviderUnavailable):
    """A gate refused the call: nothing was sent. ``reason`` names the gate (see the module
    docstring); ``wait`` is how long before asking again could succeed."""

    def __init__(self, reason: str, *, wait: float, source: str) -> None:
        super().__init__(f"not admitted ({reason})", retry_in=wait, source=source)
        self.reason = reason
        self.wait = wait

    @property
    def breaker_open(self) -> bool:
        """Whether the source's breaker refused the call (gate 5), rather than a rate."""
        return self.reason.startswith("breaker")


@dataclass(frozen=True)
class Admitted:
    """The call may go: send it at once. ``hold`` is the key of gate 4's hold, to release
    once the source answers; ``at`` the grant's time on the limiter's clock (``observe``'s
    ``sent_at``)."""

    hold: str
    at: float


def admit_call(
    source: str, query: Query, config: ProviderConfig, *, max_wait: float
) -> Admitted | NotAdmitted:
    """Gates 4 to 6 for one call, each waiting in process for at most ``max_wait`` seconds."""
    hold = hold_identical(source, query, config, max_wait=max_wait)
    if not hold:
        return NotAdmitted(IDENTICAL_IN_FLIGHT, wait=IDENTICAL_IN_FLIGHT_WAIT, source=source)
    grant = admit(source, config.token, max_wait=max_wait)
    if not grant.granted:
        get_limiter().release(hold)
        return NotAdmitted(grant.reason, wait=grant.wait, source=source)
    return Admitted(hold=hold, at=grant.at)


def hold_identical(source: str, query: Query, config: ProviderConfig, *, max_wait: float) -> str:
    """Gate 4: hold the fingerprint of these exact parameters while the call is in flight, so
    that identical requests (two claims of one person, say) are never in flight together: the
    rule behind API Particulier's 409 00015. Returns the hold's key, or "" when it stayed
    taken for ``max_wait`` seconds."""
    digest = hashlib.sha256(f"{source}|{config.token}|{query!r}".encode()).hexdigest()[:32]
    hold_key = f"inflight:{source}:{digest}"
    # Outlives the slowest call; a holder that died frees it by this time anyway.
    seconds = min(settings.VERIFICATION_LEASE.total_seconds(), 2 * (3 + config.timeout) + 5)
    limiter = get_limiter()
    deadline = time.monotonic() + max_wait
    while not limiter.hold(hold_key, seconds):
        if time.monotonic() >= deadline:
            return ""
        time.sleep(0.05)
    return hold_key


def admit(source: str, token: str, *, max_wait: float) -> Admission:
    """Gates 5 and 6: a slot from the shared limiter (which checks the source's cooldown and
    breaker first), waiting for it in process for at most ``max_wait`` seconds.

    The caller must send its request at once when granted (the limiter's guarantee is about
    grant times)."""
    limiter = get_limiter()
    deadline = time.monotonic() + max_wait
    while True:
        asked = time.monotonic()
        admission = limiter.acquire(source, token=token)
        if admission.granted:
            send_delay.granted(source, asked)  # measured until the request leaves
            return admission
        if admission.wait > deadline - time.monotonic():
            return admission
        time.sleep(max(admission.wait, 0.001))


# How long a check may wait, in its worker, for the slot of a follow-up call (Certif Info's
# detail after its search): the first call is spent, so waiting beats starting over.
FOLLOW_UP_MAX_WAIT = 10.0


class FollowUpNotAdmitted(ProviderUnavailable):
    """No slot for a follow-up call in time: the check is retried later, as after a failure,
    but the source answered its first call (not the source's failure)."""


def admit_follow_up(source: str, token: str) -> None:
    """Gate 6 again, for a check's second (third...) upstream call: each call takes its own
    slot, so a source whose check makes two calls is never sent twice its allowed rate."""
    grant = admit(source, token, max_wait=FOLLOW_UP_MAX_WAIT)
    if not grant.granted and grant.reason.startswith("breaker"):
        # The breaker decided for the whole check when it admitted the first call: this check
        # may be the half-open probe itself, which must be able to finish.
        return
    if not grant.granted:
        raise FollowUpNotAdmitted(
            "no rate-limit slot for a follow-up call", retry_in=grant.wait, source=source
        )
