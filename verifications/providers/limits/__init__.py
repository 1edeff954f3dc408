"""Shared rate limits and circuit breakers for the government APIs.

Every worker process on every machine asks the same limiter before each upstream call::

    limiter = get_limiter()
    admission = limiter.acquire("api_particulier", token=token)
    if not admission.granted:
        ...  # back to pending with not_before = now + admission.wait (reason says why)
    response = send(...)  # at once
    limiter.observe("api_particulier", token=token, limit=..., remaining=...,
                    reset_at=..., sent_at=admission.at)
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

Why this is written here rather than taken from a library (pyrate-limiter and pybreaker were
read and rejected), and why a sliding-window log: docs/LIMITS.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from verifications.providers.limits.base import (
    Admission,
    BreakerState,
    Limiter,
    LimiterUnavailable,
    LimitsConfig,
    Rate,
    RateUse,
    token_fingerprint,
)


__all__ = [
    "Admission",
    "BreakerState",
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
