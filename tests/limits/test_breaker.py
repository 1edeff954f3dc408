"""Breakers, shared cooldowns and the admin reset, on both backends, with a fake clock.

The test config opens a breaker when at least 3 distinct requests ("subjects") failed in the
last 60 s and they are at least half of the requests with an outcome in that window; it stays
open 10 s (doubling at each failed probe, up to 40 s), and gives a half-open probe 5 s to
report.
"""

import dataclasses

import pytest

from tests.limits.conftest import T0


SRC = "cvec"
RATES = {SRC: {"source": [(100, 1.0)]}, "certifinfo": {"source": [(100, 1.0)]}}


def fail(limiter, subjects, now, error="http_502"):
    """One failure for each subject (an int: that many anonymous failures)."""
    if isinstance(subjects, int):
        subjects = [""] * subjects
    for subject in subjects:
        limiter.record_failure(SRC, error=error, subject=subject, now=now)


def answer(limiter, subjects, now):
    for subject in subjects:
        limiter.record_success(SRC, subject=subject, now=now)


def people(prefix, n):
    return [f"request:{prefix}{i}" for i in range(n)]


def test_the_breaker_opens_when_enough_distinct_requests_fail(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, ["request:1", "request:2"], clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects, state.last_error) == (
        "closed",
        2,
        2,
        "http_502",
    )
    assert limiter.acquire(SRC, now=clock()).granted

    limiter.record_failure(SRC, error="timeout", subject="request:3", now=clock.advance(1))
    state = limiter.breaker(SRC, now=clock())
    assert state.state == "open"
    assert (state.failures, state.subjects, state.last_error) == (3, 3, "timeout")
    assert (state.opened_at, state.retry_at, state.last_opened_at) == (T0 + 1, T0 + 11, T0 + 1)
    assert (state.down, state.degraded) == (True, True)
    refused = limiter.acquire(SRC, now=clock.advance(4))
    assert (refused.granted, refused.reason) == (False, f"breaker:{SRC}")
    assert refused.wait == pytest.approx(6.0)
    # Other sources are not affected.
    assert limiter.acquire("certifinfo", now=clock()).granted


def test_the_same_requests_failing_again_and_again_never_open_it(make_limiter, clock):
    limiter = make_limiter(RATES)
    # One person the provider chokes on, alone: one subject, however many failures.
    for _ in range(50):
        fail(limiter, ["request:stuck0"], clock.advance(0.5))
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("closed", 1, 1)

    # Five such people among requests the source answers: 5 of 25 subjects failed.
    answer(limiter, people("ok", 20), clock())
    for _ in range(10):
        fail(limiter, people("stuck", 5), clock.advance(1))
        answer(limiter, people("ok", 20)[:2], clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects, state.answered) == ("closed", 5, 25, 20)
    assert state.last_opened_at is None
    assert not state.degraded
    assert limiter.acquire(SRC, now=clock()).granted


def test_the_share_of_failed_requests_decides(make_limiter, clock):
    limiter = make_limiter(RATES)
    answer(limiter, people("ok", 4), clock())
    fail(limiter, people("ko", 3), clock())  # 3 of 7: less than half
    assert limiter.breaker(SRC, now=clock()).state == "closed"
    fail(limiter, ["request:ko3"], clock())  # 4 of 8: half
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("open", 4, 8)


def test_the_share_is_a_setting(make_limiter, clock):
    limiter = make_limiter(RATES, failure_share=0.25)
    answer(limiter, people("ok", 9), clock())
    fail(limiter, people("ko", 3), clock())  # 3 of 12: a quarter
    assert limiter.breaker(SRC, now=clock()).state == "open"


def test_a_request_counts_once_with_its_latest_outcome(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, ["request:1", "request:2"], clock())
    answer(limiter, ["request:1"], clock.advance(1))  # its retry went through
    fail(limiter, ["request:3"], clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("closed", 2, 3)
    fail(limiter, ["request:1"], clock())  # and failed again
    assert limiter.breaker(SRC, now=clock()).state == "open"


def test_outcomes_leave_the_window(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, ["request:1", "request:2"], clock())
    fail(limiter, ["request:3"], clock.advance(60))  # the first two are 60 s old: gone
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("closed", 1, 1)
    assert limiter.breaker(SRC, now=clock.advance(60)).subjects == 0


def test_without_a_subject_each_outcome_is_a_request_of_its_own(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 2, clock())
    limiter.record_success(SRC, now=clock())
    assert limiter.breaker(SRC, now=clock()).state == "closed"  # 2 of 3
    fail(limiter, 1, clock())  # 3 of 4
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("open", 3, 4)


def test_half_open_lets_exactly_one_probe_through_then_closes_on_success(make_limiter, clock):
    limiter = make_limiter(RATES)
    other_process = make_limiter(RATES)
    fail(limiter, people("ko", 3), clock())
    clock.advance(10)
    assert limiter.breaker(SRC, now=clock()).state == "half_open"
    assert limiter.acquire(SRC, now=clock()).granted  # the probe
    for who in (limiter, other_process):
        refused = who.acquire(SRC, now=clock.advance(1))
        assert refused.reason == f"breaker:{SRC}"
        assert 0 < refused.wait <= 5
    answer(limiter, ["request:probe"], clock())
    state = other_process.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.retry_at) == ("closed", 0, None)
    assert state.last_opened_at == T0  # kept once closed, for the back-office
    assert all(other_process.acquire(SRC, now=clock()).granted for _ in range(10))
    # The outage's failures were forgotten: one more failure does not reopen it.
    fail(limiter, ["request:ko0"], clock())
    assert limiter.breaker(SRC, now=clock()).state == "closed"


def test_a_failed_probe_opens_the_breaker_again_for_longer(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, people("ko", 3), clock())
    expected_open = [20, 40, 40]  # doubling, capped at max_open_seconds
    clock.advance(10)
    for n, seconds in enumerate(expected_open):
        assert limiter.acquire(SRC, now=clock()).granted
        fail(limiter, [f"request:probe{n}"], clock(), error="http_503")  # a new request
        state = limiter.breaker(SRC, now=clock())
        assert state.state == "open"
        assert state.retry_at == pytest.approx(clock() + seconds)
        assert not limiter.acquire(SRC, now=clock.advance(seconds - 0.01)).granted
        clock.advance(0.01)
    assert limiter.acquire(SRC, now=clock()).granted
    answer(limiter, ["request:probe-ok"], clock())
    # Closed again: the next outage starts over from the base open period.
    fail(limiter, people("ko2-", 3), clock())
    assert limiter.breaker(SRC, now=clock()).retry_at == pytest.approx(clock() + 10)


def test_a_failed_probe_of_a_request_already_failing_reopens_while_the_source_fails(
    make_limiter, clock
):
    # Nothing but failures in the window: the probe's failure confirms the outage.
    limiter = make_limiter(RATES)
    fail(limiter, people("ko", 3), clock())
    assert limiter.acquire(SRC, now=clock.advance(10)).granted
    fail(limiter, ["request:ko0"], clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.retry_at) == ("open", pytest.approx(clock() + 20))


def test_a_failed_probe_of_a_request_failing_alone_does_not_reopen_the_breaker(make_limiter, clock):
    limiter = make_limiter(RATES)
    answer(limiter, people("ok", 2), clock())
    fail(limiter, people("ko", 3), clock())  # 3 of 5: open
    assert limiter.breaker(SRC, now=clock()).state == "open"
    # Answers to requests sent before it opened: recorded, but the open period stands.
    answer(limiter, people("late", 4), clock.advance(2))
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects) == ("open", 3, 9)

    # The probe is one of the requests already failing, and it fails again: nothing new
    # about the source (3 of 9 failed). It stays half-open, and the next request probes now.
    assert limiter.acquire(SRC, now=clock.advance(8)).granted
    fail(limiter, ["request:ko1"], clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures) == ("half_open", 3)
    assert limiter.acquire(SRC, now=clock()).granted  # another probe, at once
    assert not limiter.acquire(SRC, now=clock()).granted  # still one at a time
    answer(limiter, ["request:fresh"], clock())
    assert limiter.breaker(SRC, now=clock()).state == "closed"


def test_a_request_failing_alone_then_a_new_one_failing_reopens_it(make_limiter, clock):
    limiter = make_limiter(RATES)
    answer(limiter, people("ok", 2), clock())
    fail(limiter, people("ko", 3), clock())
    answer(limiter, people("late", 4), clock.advance(2))
    assert limiter.acquire(SRC, now=clock.advance(8)).granted
    fail(limiter, ["request:ko1"], clock())  # already failing: stays half-open
    assert limiter.acquire(SRC, now=clock()).granted
    fail(limiter, ["request:new"], clock())  # a request that never failed: reopens
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.retry_at) == ("open", pytest.approx(clock() + 20))


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
    fail(limiter, people("ko", 3), clock())
    answer(limiter, ["request:ko0"], clock.advance(2))  # a request sent before it opened
    assert limiter.breaker(SRC, now=clock()).state == "open"
    assert not limiter.acquire(SRC, now=clock()).granted


def test_error_codes_are_kept_but_messages_are_not(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.record_failure(SRC, error="30999", subject="request:1", now=clock())
    assert limiter.breaker(SRC, now=clock()).last_error == "30999"
    limiter.record_failure(SRC, error="Aucun élève MARTIN Emma", subject="x", now=clock())
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
    assert (state.down, state.degraded) == (False, True)
    assert not other_process.acquire(SRC, now=T0 + 34.99).granted
    assert other_process.acquire(SRC, now=T0 + 35).granted
    assert other_process.breaker(SRC, now=T0 + 35).cooldown_until is None


def test_admin_reset_closes_the_breaker_clears_the_cooldown_and_the_window(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, people("ko", 3), clock())
    limiter.pause("certifinfo", 60, now=clock())
    limiter.reset(SRC)
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.subjects, state.last_opened_at) == (
        "closed",
        0,
        0,
        None,
    )
    assert limiter.acquire(SRC, now=clock()).granted
    assert not limiter.acquire("certifinfo", now=clock()).granted
    fail(limiter, people("ko", 3), clock())
    limiter.reset()
    assert limiter.acquire(SRC, now=clock()).granted
    assert limiter.acquire("certifinfo", now=clock()).granted
    assert limiter.breaker(SRC, now=clock()).failures == 0


def test_breakers_lists_configured_sources_and_any_source_with_a_state(make_limiter, clock):
    limiter = make_limiter(RATES)
    fail(limiter, 3, clock())
    limiter.record_failure("covoiturage", error="timeout", subject="request:9", now=clock())
    states = limiter.breakers(now=clock())
    assert sorted(states) == ["certifinfo", "covoiturage", "cvec"]
    assert states["cvec"].state == "open"
    assert (states["covoiturage"].state, states["covoiturage"].failures) == ("closed", 1)
    assert (states["certifinfo"].state, states["certifinfo"].failures) == ("closed", 0)
    assert states["certifinfo"].rates == ()
    limiter.acquire("certifinfo", now=clock())
    (use,) = limiter.breaker("certifinfo", now=clock()).rates
    assert (use.scope, use.limit, use.window, use.used) == ("source", 100, 1.0, 1)


def test_the_breaker_logs_why_it_opens(make_limiter, clock, caplog):
    limiter = make_limiter(RATES)
    caplog.set_level("INFO")
    answer(limiter, people("ok", 2), clock())
    fail(limiter, people("ko", 3), clock(), error="30999")
    assert (
        f"Circuit breaker for {SRC} opened: 3 of the 5 requests with an outcome in the last "
        "60 s failed (last error: 30999)"
    ) in caplog.text
    assert "request:ko" not in caplog.text


def test_requests_set_aside_as_failing_alone_never_open_it(make_limiter, clock):
    limiter = make_limiter(RATES, set_aside_seconds=3600.0)
    stuck = people("stuck", 5)
    answer(limiter, people("ok", 20), clock())
    fail(limiter, stuck, clock())
    for subject in stuck:  # each given up, its own retries spent, while others were answered
        limiter.set_aside(SRC, subject=subject, now=clock())
    state = limiter.breaker(SRC, now=clock())
    assert (state.failures, state.subjects, state.failing_alone) == (0, 20, 5)

    # Ten minutes later the five are re-run, and nothing else is asked meanwhile.
    clock.advance(600)
    for _ in range(5):
        fail(limiter, stuck, clock.advance(1))
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.failing_alone) == ("closed", 0, 5)
    assert state.last_opened_at is None

    # Answered once: no longer set aside.
    answer(limiter, stuck[:1], clock())
    assert limiter.breaker(SRC, now=clock()).failing_alone == 4
    # Set aside for a while only.
    fail(limiter, stuck[1:4], clock.advance(3600))
    state = limiter.breaker(SRC, now=clock())
    assert (state.state, state.failures, state.failing_alone) == ("open", 3, 0)


def test_a_failed_probe_of_a_request_set_aside_does_not_reopen_it(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.set_aside(SRC, subject="request:stuck", now=clock())
    fail(limiter, people("ko", 3), clock.advance(30))  # the source fails for others: open
    answer(limiter, people("late", 4), clock.advance(1))
    assert limiter.acquire(SRC, now=clock.advance(10)).granted
    fail(limiter, ["request:stuck"], clock())
    assert limiter.breaker(SRC, now=clock()).state == "half_open"
    assert limiter.acquire(SRC, now=clock()).granted  # the next probe, at once


def test_the_breaker_alone_can_be_read_without_the_rates(make_limiter, clock):
    limiter = make_limiter(RATES)
    assert limiter.acquire(SRC, now=clock()).granted
    fail(limiter, people("ko", 3), clock())
    limiter.pause(SRC, 30, now=clock())
    light = limiter.breaker(SRC, now=clock(), with_rates=False)
    full = limiter.breaker(SRC, now=clock())
    assert light.rates == ()
    assert len(full.rates) == 1
    assert light == dataclasses.replace(full, rates=())
