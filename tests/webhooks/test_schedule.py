"""The retry schedule: Standard Webhooks' delays, with jitter, within 24 hours."""

import itertools
import random
from datetime import UTC, datetime, timedelta

from webhooks.schedule import DEFAULT_DELAYS, JITTER, next_attempt_at


T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def walk(seed: int) -> list[datetime]:
    """Every attempt's time when each one fails at once."""
    rng = random.Random(seed)
    times = [T0]
    failures = 0
    while True:
        failures += 1
        nxt = next_attempt_at(
            failures=failures,
            first_attempt_at=T0,
            now=times[-1],
            delays=DEFAULT_DELAYS,
            window=DAY,
            rng=rng,
        )
        if nxt is None:
            return times
        times.append(nxt)


def test_the_default_schedule_follows_the_recommendation_and_ends_within_a_day():
    for seed in range(20):
        times = walk(seed)
        assert len(times) == 1 + len(DEFAULT_DELAYS)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        for gap, delay in zip(gaps[:-1], DEFAULT_DELAYS[:-1], strict=True):
            assert delay * (1 - JITTER) <= gap <= delay * (1 + JITTER)
        # The last retry (10 h after a 10 h one would be past 24 h) is brought to the window's end.
        assert times[-1] == T0 + DAY
        assert all(b > a for a, b in itertools.pairwise(times))


def test_jitter_spreads_the_retries():
    assert len({walk(seed)[2] for seed in range(20)}) > 10


def test_nothing_after_the_window_or_the_last_delay():
    rng = random.Random(1)
    late = T0 + DAY + timedelta(seconds=1)
    args = {"first_attempt_at": T0, "delays": DEFAULT_DELAYS, "window": DAY, "rng": rng}
    assert next_attempt_at(failures=1, now=late, **args) is None
    assert next_attempt_at(failures=len(DEFAULT_DELAYS) + 1, now=T0, **args) is None
    assert next_attempt_at(failures=0, now=T0, **args) is None
