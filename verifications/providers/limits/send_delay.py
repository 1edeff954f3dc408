"""Measuring the delay between a grant and its request leaving the worker.

The limiter's guarantee is about grant times; the server counts arrivals. Between the two lie
the worker's own delay (a loaded machine does not run it at once) and the network. The worker
part is measured here, per thread: ``granted`` when the limiter grants a slot (stamped when the
slot was asked for, so the limiter's round trip counts too), ``sent`` once the request has left
and been answered (the provider session calls it, stamped when it started sending). The delay
goes to the shared limiter (``Limiter.note_send_delay``), which widens every window of the
source by the longest recent one (docs/LIMITS.md, "The margin").
"""

import threading


_local = threading.local()


def granted(source: str, asked_at: float) -> None:
    """A slot of ``source`` was granted to a request asked for at ``asked_at``
    (``time.monotonic()``); the next request this thread sends is the one it was for."""
    _local.pending = (source, asked_at)


def sent(started_at: float) -> None:
    """The request granted last in this thread started sending at ``started_at``
    (``time.monotonic()``): tell the limiter how long after its grant. Nothing without a
    grant (a source without limits, a test calling a provider directly)."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        return
    _local.pending = None
    source, asked_at = pending
    from verifications.providers.limits import get_limiter

    get_limiter().note_send_delay(source, started_at - asked_at)
