"""Breakers, shared cooldowns and the admin reset, on both backends, with a fake clock.

The test config opens a breaker after 3 consecutive failures, for 10 s (doubling at each failed
probe, up to 40 s), and gives a half-open probe 5 s to report.
"""

import pytest

from tests.limits.conftest import T0


SRC = "cvec"
RATES = {SRC: {"source": [(100, 1.0)]}, "certifinfo": {"source": [(100, 1.0)]}}


def fail(limiter, times, now, error="http_502"):
    for _ in range(times):
        limiter.record_failure(SRC, error=error, now=now)


def test_the_breaker_opens_after_consecutive_failures_only(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 2, clock())
    limiter.record_success(SRC, now=clock())  # the count starts again
    fail(limiter, 2, clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.last_error) == ("closed", 2, "http_502")
    assert limiter.acquire(SRC, now=clock()).granted

    limiter.record_failure(SRC, error="timeout", now=clock.advance(1))
    state = limiter.breaker(SRC, now=clock())
    assert state.state == "open"
    assert (state.failures, state.last_error) == (3, "timeout")
    assert (state.opened_at, state.retry_at) == (T0 + 1, T0 + 11)
    refused = limiter.acquire(SRC, now=clock.advance(4))
    assert (refused.granted, refused.reason) == (False, f"breaker:{SRC}")
    assert refused.wait == pytest.approx(6.0)
    # Other sources are not affected.
    assert limiter.acquire("certifinfo", now=clock()).granted


def test_half_open_lets_exactly_one_probe_through_then_closes_on_success(make_limiter, clock):
    limiter = make_limiter(RATES)
    other_process = make_limiter(RATES)
    fail(limiter, 3, clock())
    clock.advance(10)
    assert limiter.breaker(SRC, now=clock()).state == "half_open"
    assert limiter.acquire(SRC, now=clock()).granted  # the probe
    for who in (limiter, other_process):
        refused = who.acquire(SRC, now=clock.advance(1))
        assert refused.reason == f"breaker:{SRC}"
        assert 0 < refused.wait <= 5
    limiter.record_success(SRC, now=clock())
    state = other_process.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.retry_at) == ("closed", 0, None)
    assert all(other_process.acquire(SRC, now=clock()).granted for _ in range(10))


def test_a_failed_probe_opens_the_breaker_again_for_longer(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    expected_open = [20, 40, 40]  # doubling, capped at max_open_seconds
    clock.advance(10)
    for seconds in expected_open:
        assert limiter.acquire(SRC, now=clock()).granted
        limiter.record_failure(SRC, error="http_503", now=clock())
        state = limiter.breaker(SRC, now=clock())
        assert state.state == "open"
        assert state.retry_at == pytest.approx(clock() + seconds)
        assert not limiter.acquire(SRC, now=clock.advance(seconds - 0.01)).granted
        clock.advance(0.01)
    assert limiter.acquire(SRC, now=clock()).granted
    limiter.record_success(SRC, now=clock())
    # Closed again: the next outage starts over from the base open period.
    fail(limiter, 3, clock())
    assert limiter.breaker(SRC, now=clock()).retry_at == pytest.approx(clock() + 10)


def test_a_probe_that_never_reports_is_replaced_after_its_lease(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    assert limiter.acquire(SRC, now=clock.advance(10)).granted  # its worker dies
    assert not limiter.acquire(SRC, now=clock.advance(4.99)).granted
    assert limiter.acquire(SRC, now=clock.advance(0.02)).granted  # a new probe
    assert not limiter.acquire(SRC, now=clock()).granted


def test_the_probe_is_not_spent_when_a_bucket_refuses(make_limiter, clock):
    limiter = make_limiter({SRC: {"source": [(1, 60.0)]}})
    assert limiter.acquire(SRC, now=clock()).granted
    fail(limiter, 3, clock())
    refused = limiter.acquire(SRC, now=clock.advance(10))
    assert refused.reason == f"rate:{SRC}:source"
    assert limiter.breaker(SRC, now=clock()).state == "half_open"
    assert limiter.acquire(SRC, now=T0 + 60.04).granted  # still the probe's to take
    assert limiter.acquire(SRC, now=T0 + 61).reason == f"breaker:{SRC}"  # one probe only


def test_a_late_success_does_not_close_an_open_breaker_early(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    limiter.record_success(SRC, now=clock.advance(2))  # a request sent before it opened
    assert limiter.breaker(SRC, now=clock()).state == "open"
    assert not limiter.acquire(SRC, now=clock()).granted


def test_error_codes_are_kept_but_messages_are_not(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.record_failure(SRC, error="30999", now=clock())
    assert limiter.breaker(SRC, now=clock()).last_error == "30999"
    limiter.record_failure(SRC, error="Aucun élève MARTIN Emma", now=clock())
    assert limiter.breaker(SRC, now=clock()).last_error == "unspecified"


def test_pause_stops_the_whole_source_until_it_ends(make_limiter, clock):
    limiter = make_limiter(RATES)
    other_process = make_limiter(RATES)
    limiter.pause(SRC, 30, reason="429", now=clock())
    refused = other_process.acquire(SRC, now=clock.advance(10))
    assert (refused.granted, refused.reason) == (False, f"cooldown:{SRC}")
    assert refused.wait == pytest.approx(20)
    assert other_process.acquire("certifinfo", now=clock()).granted
    # A shorter pause never shortens the cooldown; a longer one extends it.
    limiter.pause(SRC, 1, now=clock())
    assert other_process.acquire(SRC, now=clock()).wait == pytest.approx(20)
    limiter.pause(SRC, 25, reason="00429", now=clock())
    state = other_process.breaker(SRC, now=clock())
    assert (state.cooldown_until, state.cooldown_reason) == (pytest.approx(T0 + 35), "00429")
    assert state.state == "closed"  # a cooldown is not a breaker
    assert not other_process.acquire(SRC, now=T0 + 34.99).granted
    assert other_process.acquire(SRC, now=T0 + 35).granted
    assert other_process.breaker(SRC, now=T0 + 35).cooldown_until is None


def test_admin_reset_closes_the_breaker_and_clears_the_cooldown(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    limiter.pause("certifinfo", 60, now=clock())
    limiter.reset(SRC)
    assert limiter.breaker(SRC, now=clock()).state == "closed"
    assert limiter.acquire(SRC, now=clock()).granted
    assert not limiter.acquire("certifinfo", now=clock()).granted
    fail(limiter, 3, clock())
    limiter.reset()
    assert limiter.acquire(SRC, now=clock()).granted
    assert limiter.acquire("certifinfo", now=clock()).granted


def test_breakers_lists_configured_sources_and_any_source_with_a_state(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    limiter.record_failure("covoiturage", error="timeout", now=clock())
    states = limiter.breakers(now=clock())
    assert sorted(states) == ["certifinfo", "covoiturage", "cvec"]
    assert states["cvec"].state == "open"
    assert (states["covoiturage"].state, states["covoiturage"].failures) == ("closed", 1)
    assert (states["certifinfo"].state, states["certifinfo"].failures) == ("closed", 0)
    assert states["certifinfo"].rates == ()
    limiter.acquire("certifinfo", now=clock())
    (use,) = limiter.breaker("certifinfo", now=clock()).rates
    assert (use.scope, use.limit, use.window, use.used) == ("source", 100, 1.0, 1)
