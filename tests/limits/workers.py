"""Code run in child processes by the multi-process tests (started with ``spawn``).

Kept free of pytest and Django set-up: a child imports only this module and the limiter.
"""

import time
from pathlib import Path
from typing import Any

from verifications.providers.limits.base import Limiter, LimitsConfig
from verifications.providers.limits.local_backend import LocalLimiter
from verifications.providers.limits.redis_backend import RedisLimiter


def build_limiter(backend: str, target: str, config: LimitsConfig) -> Limiter:
    """A limiter of ``backend`` over ``target`` (a SQLite path or a Redis URL)."""
    if backend == "local":
        return LocalLimiter(config, Path(target))
    return RedisLimiter(config, target)


def hammer(
    backend: str,
    target: str,
    config: LimitsConfig,
    source: str,
    token: str,
    duration: float,
    barrier: Any,
    results: Any,
) -> None:
    """Ask for slots for ``duration`` seconds, re-asking after ``wait`` or 20 ms if sooner."""
    limiter = build_limiter(backend, target, config)
    granted: list[float] = []  # on the limiter's clock
    received: list[float] = []  # when this process got the answer (its own clock)
    calls = 0
    latency = 0.0
    barrier.wait()
    end = time.time() + duration
    while (now := time.time()) < end:
        decision = limiter.acquire(source, token=token)
        answered = time.time()
        calls += 1
        latency += answered - now
        if decision.granted:
            granted.append(decision.at)
            received.append(answered)
        else:
            time.sleep(max(min(decision.wait, 0.02, end - answered), 0.0))
    limiter.close()
    results.put({"granted": granted, "received": received, "calls": calls, "latency": latency})


def probe_race(
    backend: str,
    target: str,
    config: LimitsConfig,
    source: str,
    duration: float,
    barrier: Any,
    results: Any,
) -> None:
    """Wait for the parent to open the breaker, then keep asking across its half-open time."""
    limiter = build_limiter(backend, target, config)
    barrier.wait()  # ready
    barrier.wait()  # the parent has opened the breaker
    end = time.time() + duration
    granted, calls = [], 0
    while (now := time.time()) < end:
        decision = limiter.acquire(source)
        calls += 1
        if decision.granted:
            granted.append(decision.at)
        else:
            # Short naps: many tries around the moment the breaker turns half-open.
            time.sleep(max(min(decision.wait, 0.005, end - now), 0.0))
    limiter.close()
    results.put({"granted": granted, "calls": calls})
