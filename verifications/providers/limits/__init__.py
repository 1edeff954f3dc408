"""Shared rate limits and circuit breakers for the government APIs.

Every worker process on every machine asks the same limiter before each upstream call::

    limiter = get_limiter()
    decision = limiter.acquire("api_particulier", token_key=token)
    if not decision.granted:
        ...  # back to pending with not_before = now + decision.wait (reason says why)
    response = send(...)  # at once
    limiter.observe("api_particulier", token_key=token, limit=..., remaining=...,
                    reset_at=..., sent_at=decision.at)
    # then limiter.record_success(source, subject=f"request:{request_id}"),
    # record_failure(source, error="http_502", subject=f"request:{request_id}"),
    # or limiter.pause(source, retry_after) on a 429

``acquire`` never blocks: it answers at once with how long to wait. Limits, the safety margin
and the breaker's thresholds are settings (``VERIFICATION_RATE_LIMITS`` and friends).

The breaker measures sources, not people: it opens on the share of *distinct requests* (the
``subject``) that failed in a recent window (``VERIFICATION_BREAKER_WINDOW_SECONDS``), at least
``VERIFICATION_BREAKER_FAILURE_THRESHOLD`` of them and at least
``VERIFICATION_BREAKER_FAILURE_SHARE`` of those with an outcome; the same few requests failing
again and again never open it while the source answers others (``base.py``, "The breaker").

Why this is written here rather than taken from a library
---------------------------------------------------------
pyrate-limiter (4.5) and pybreaker (1.4) were read and rejected, for reasons that matter to
correctness here, not taste:

* pyrate-limiter checks and records one bucket per Lua call, so a request that fits the token
  bucket but not the IP bucket still spends its token slot (no all-or-nothing across buckets);
  its ``RedisBucket`` timestamps items with each *client's* clock (``time_ns()``, by design), so
  clock skew between worker machines breaks the window guarantee; and it has nothing to fold in
  the server's ``RateLimit-Remaining``/``RateLimit-Reset`` or a shared cooldown.
* pybreaker wraps a call (``breaker.call(func)``), whereas our admission and our outcome are
  separate steps of a task that may die in between; its ``CircuitRedisStorage`` moves from open
  to half-open with a non-atomic read-then-write on each client's clock, so several processes
  can each send a "single" probe, and a probe whose worker dies is never re-granted.

What we need is small: a sliding-window log per bucket (the simplest algorithm that bounds
*every* window, see ``base.py``) checked and written for all buckets in one atomic step, in one
Lua script for Redis and one SQLite transaction for the local backend.

Why a sliding-window log
------------------------
The sources and the sandbox count requests per fixed or sliding window, and the statistics
check the busiest 1-second and 1-minute windows. A log grants a request only if fewer than
``limit`` grants lie in the last ``window`` seconds, so *no* window of that length, however
aligned, ever holds more than ``limit``; and it is greedy, so it wastes nothing: 1,000 requests
at 20/s under a 1,000/min cap take 50.5 s (margin included), where GCRA with spacing would take
60 s, and a token bucket with a burst can exceed a sliding window. The cost, one log entry per
request per bucket (at most a few thousand), is negligible. A small time margin is added to
every window (30 ms by default) to absorb the jitter between a grant and the request's arrival
upstream.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from verifications.providers.limits.base import (
    BreakerState,
    Decision,
    Limiter,
    LimiterUnavailable,
    LimitsConfig,
    Rate,
    RateUse,
    token_fingerprint,
)


__all__ = [
    "BreakerState",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "LimitsConfig",
    "Rate",
    "RateUse",
    "get_limiter",
    "reset_limiter_cache",
    "token_fingerprint",
]

_limiter: Limiter | None = None

_SETTINGS = {
    "REDIS_URL",
    "VAR_DIR",
    "VIGIE_EGRESS_ID",
    "VERIFICATION_RATE_LIMITS",
    "VERIFICATION_RATE_LIMIT_MARGIN",
    "VERIFICATION_BREAKER_FAILURE_THRESHOLD",
    "VERIFICATION_BREAKER_OPEN_SECONDS",
    "VERIFICATION_BREAKER_MAX_OPEN_SECONDS",
    "VERIFICATION_BREAKER_PROBE_SECONDS",
    "VERIFICATION_BREAKER_WINDOW_SECONDS",
    "VERIFICATION_BREAKER_FAILURE_SHARE",
    "VERIFICATION_BREAKER_SET_ASIDE_SECONDS",
}


def get_limiter() -> Limiter:
    """The process's limiter: Redis when ``REDIS_URL`` is set, the local SQLite file otherwise."""
    global _limiter
    if _limiter is None:
        config = LimitsConfig.from_settings(settings)
        if settings.REDIS_URL:
            from verifications.providers.limits.redis_backend import RedisLimiter

            _limiter = RedisLimiter(config, settings.REDIS_URL)
        else:
            from verifications.providers.limits.local_backend import LocalLimiter

            _limiter = LocalLimiter(config, settings.VAR_DIR / "limits.sqlite3")
    return _limiter


def reset_limiter_cache() -> None:
    """Close and forget the cached limiter (tests; settings changed)."""
    global _limiter
    if _limiter is not None:
        _limiter.close()
    _limiter = None


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        reset_limiter_cache()


setting_changed.connect(_settings_changed)
