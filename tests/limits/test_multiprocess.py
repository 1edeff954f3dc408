"""Real processes sharing one limiter: the windows hold, the throughput is near the maximum,
and a half-open breaker lets exactly one probe through. Figures are printed (``-s`` shows them).

Children are started with ``spawn`` (no fork of the test process) and synchronised with a
barrier, then ask for slots on the real clock (Redis ``TIME`` or the machine's).
"""

import multiprocessing

import pytest

from tests.limits.conftest import make_config
from tests.limits.windows import busiest_window, greedy_count
from tests.limits.workers import build_limiter, hammer, probe_race


PROCESSES = 4
SRC = "api_particulier"


def report(capsys, message, *args):
    """Print a figure to the terminal even when output is captured (it belongs in CI logs)."""
    with capsys.disabled():
        print("\n" + message % args)  # noqa: T201


def run_children(target, args, *, parties_extra=0, between=None):
    """Start PROCESSES children on ``target(*args, barrier, results)``, collect their results.

    ``between(barrier)`` runs in the parent when it takes part in the barrier.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES + parties_extra)
    results = ctx.Queue()
    children = [
        ctx.Process(target=target, args=(*args, barrier, results), daemon=True)
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        if between is not None:
            between(barrier)
        collected = [results.get(timeout=60) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    assert all(child.exitcode == 0 for child in children)
    return collected


@pytest.mark.slow
def test_four_processes_never_exceed_any_window_and_get_nearly_every_slot(backend, capsys):
    """10 per 0.5 s per token and 30 per 2 s per IP, four processes asking flat out for 3 s
    (re-asking at least every 20 ms while refused, for contention)."""
    limits = {"token": [(10, 0.5)], "ip": [(30, 2.0)]}
    config = make_config({SRC: limits})
    duration = 3.0
    results = run_children(hammer, (*backend, config, SRC, "shared-token", duration))

    granted = sorted(g for r in results for g in r["granted"])
    received = sorted(g for r in results for g in r["received"])
    t0 = granted[0]
    in_run = [g for g in granted if g < t0 + duration]
    margin = config.margin
    best = greedy_count([(n, w + margin) for rates in limits.values() for n, w in rates], duration)
    calls = sum(r["calls"] for r in results)
    latency_ms = 1000 * sum(r["latency"] for r in results) / calls
    busiest = {
        f"{n}/{w}s": (busiest_window(granted, w), busiest_window(received, w))
        for rates in limits.values()
        for n, w in rates
    }
    report(
        capsys,
        "[%s] %d processes, %.1f s: %d grants of a theoretical %d (%.1f%%), per process %s; "
        "%d acquire calls, %.2f ms each on average; busiest windows (limiter clock, as "
        "received): %s",
        backend[0],
        PROCESSES,
        duration,
        len(in_run),
        best,
        100 * len(in_run) / best,
        [len(r["granted"]) for r in results],
        calls,
        latency_ms,
        busiest,
    )
    for rates in limits.values():
        for limit, window in rates:
            assert busiest_window(granted, window) <= limit, (limit, window)
    # The limiter promises no fairness between processes (with the local backend, the process
    # holding SQLite's lock often takes a whole burst): only the total is checked.
    assert len(in_run) >= 0.9 * best


@pytest.mark.slow
def test_half_open_breaker_lets_exactly_one_probe_through_across_processes(backend, capsys):
    config = make_config({SRC: {"token": [(1000, 1.0)]}}, open_seconds=0.5, probe_seconds=30.0)
    parent = build_limiter(*backend, config)
    opened = {}

    def open_breaker(barrier):
        barrier.wait()  # every child is ready
        for _ in range(config.failure_threshold):
            parent.record_failure(SRC, error="timeout")
        opened["state"] = parent.breaker(SRC)
        barrier.wait()

    results = run_children(
        probe_race, (*backend, config, SRC, 1.5), parties_extra=1, between=open_breaker
    )
    probes = [g for r in results for g in r["granted"]]
    calls = sum(r["calls"] for r in results)
    report(
        capsys,
        "[%s] half-open race: %d probe granted out of %d acquire calls from %d processes",
        backend[0],
        len(probes),
        calls,
        PROCESSES,
    )
    assert opened["state"].state == "open"
    assert len(probes) == 1
    assert probes[0] >= opened["state"].retry_at
    assert parent.breaker(SRC).state == "half_open"

    parent.record_success(SRC)
    assert parent.breaker(SRC).state == "closed"
    assert parent.acquire(SRC).granted
    # And failing again opens it again, for every process.
    for _ in range(config.failure_threshold):
        parent.record_failure(SRC, error="http_502")
    another_process = build_limiter(*backend, config)
    assert another_process.acquire(SRC).reason == f"breaker:{SRC}"
    another_process.close()
    parent.close()
