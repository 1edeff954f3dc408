"""When a failed delivery is tried again: pure rules, ``now`` and the random source passed in.

The default schedule is Standard Webhooks' recommendation: at once, then 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and 10 h after each failure, each delay stretched or shrunk by up to 10 %
(jitter, so that the deliveries of a receiver that comes back do not all arrive at once). No
attempt is made later than the retry window (24 h) after the first one: the last retry is
brought forward to the window's end, then the delivery is given up (it can be replayed).
"""

import random
from collections.abc import Sequence
from datetime import datetime, timedelta


DEFAULT_DELAYS: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1


def next_attempt_at(
    *,
    failures: int,
    first_attempt_at: datetime,
    now: datetime,
    delays: Sequence[float],
    window: timedelta,
    rng: random.Random,
) -> datetime | None:
    """After ``failures`` failed attempts (the last one just now), when to try again; None to
    give up."""
    if failures < 1 or failures > len(delays):
        return None
    end = first_attempt_at + window
    if now >= end:
        return None
    delay = delays[failures - 1] * (1 + rng.uniform(-JITTER, JITTER))
    return min(now + timedelta(seconds=max(delay, 0.0)), end)
