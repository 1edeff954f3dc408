"""When to try a failed call again, and when to give up: pure functions of the policy.

The pipeline and the CLI share these rules (docs/DESIGN.md §The verification pipeline, step 5):
a 429 waits for the server's Retry-After, a 409 00015 about a minute, a failure that may go
away (timeout, 5xx) backs off exponentially with jitter, honouring the server's `retry_in`,
for a bounded number of calls and a bounded time; anything else is final.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class RetryPolicy:
    max_failures: int
    base_delay: float
    max_delay: float
    give_up_after: timedelta
    conflict_delay: float

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            max_failures=settings.VERIFICATION_MAX_FAILURES,
            base_delay=settings.VERIFICATION_RETRY_BASE_SECONDS,
            max_delay=settings.VERIFICATION_RETRY_MAX_SECONDS,
            give_up_after=settings.VERIFICATION_GIVE_UP_AFTER,
            conflict_delay=settings.VERIFICATION_CONFLICT_DELAY_SECONDS,
        )


def backoff_delay(
    failure_count: int, policy: RetryPolicy, *, retry_in: float | None = None, rng: random.Random
) -> float:
    """Seconds before the next try after the ``failure_count``-th failure (1, 2, ...).

    "Equal jitter": half the exponential step, plus a random share of the other half, so that
    requests that failed together do not come back together. A server's ``retry_in`` is a
    floor, never shortened.
    """
    step = min(policy.max_delay, policy.base_delay * 2 ** max(0, failure_count - 1))
    delay = step / 2 + rng.uniform(0, step / 2)
    if retry_in is not None and retry_in > 0:
        delay = max(delay, float(retry_in))
    return delay


def conflict_delay(policy: RetryPolicy, *, rng: random.Random) -> float:
    """About a minute for API Particulier's 409 00015, spread by ±10 %."""
    return policy.conflict_delay * rng.uniform(0.9, 1.1)


def should_give_up(
    *, failure_count: int, failing_since: datetime | None, now: datetime, policy: RetryPolicy
) -> bool:
    """True when the failures are exhausted or the source has failed for too long."""
    if failure_count >= policy.max_failures:
        return True
    return failing_since is not None and now - failing_since >= policy.give_up_after
