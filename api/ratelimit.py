"""Per-key rate limit of the API, with the IETF draft's ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` headers, and ``429`` with ``Retry-After``.

A fixed window counted on the default cache, as the login throttle counts failures
(``admissions/login_throttle.py``): Redis in production, so every web process shares the
count. The sources' limiter (``verifications/providers/limits/``) is not used for this: it is
built around sources, their servers' own budgets and circuit breakers, and a fixed window is
what the headers describe (how many are left until when). It protects Vigie from one key; the
sources' limits are still the limiter's alone: a check asked through the API (a later
increment) is a ``VerificationRequest`` that waits its turn like any other.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


_PREFIX = "vigie:api-rate"


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def rate_consume(prefix: str, *, now: float | None = None) -> RateState:
    """Count one request of the key whose prefix is given."""
    limit = settings.VIGIE_API_RATE_LIMIT
    window = settings.VIGIE_API_RATE_WINDOW_SECONDS
    now = time.time() if now is None else now
    start = int(now // window) * window
    key = f"{_PREFIX}:{prefix}:{start}"
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        count = 1
    reset = max(1, math.ceil(start + window - now))
    return RateState(
        limit=limit, remaining=max(0, limit - count), reset=reset, allowed=count <= limit
    )
