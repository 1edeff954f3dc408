"""Independent checks of grant logs, shared by the tests (no limiter code here)."""

import math
from collections.abc import Sequence


def busiest_window(grants: Sequence[float], window: float) -> int:
    """The most grants in any closed window ``[a, a + window]``, however aligned."""
    times = sorted(grants)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] < t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def greedy_count(rates: Sequence[tuple[int, float]], duration: float) -> int:
    """How many grants an ideal limiter gives a caller that always asks, in ``[0, duration)``.

    ``rates`` are (limit, window) pairs with the safety margin already added: a grant at ``t``
    is allowed when fewer than ``limit`` grants lie in ``(t - window, t]`` for every rate.
    """
    grants: list[float] = []
    t = 0.0
    while t < duration:
        blocked_until = None
        for limit, window in rates:
            recent = [g for g in grants if g > t - window]
            if len(recent) >= limit:
                blocked_until = max(blocked_until or t, recent[-limit] + window)
        if blocked_until is not None:
            t = max(blocked_until, math.nextafter(t, math.inf))
            continue
        grants.append(t)
    return len(grants)
