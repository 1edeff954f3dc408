"""``observe``: the server's RateLimit-* headers, on both backends, with a fake clock."""

import pytest

from tests.limits.conftest import T0


SRC = "api_particulier"
RATES = {SRC: {"token": [(20, 1.0)], "ip": [(1000, 60.0)]}}


def grant_count(limiter, clock, *, token="tok", tries=100, step=0.06):  # noqa: S107
    """How many of ``tries`` requests, one every ``step`` seconds, are granted."""
    granted = 0
    for _ in range(tries):
        granted += limiter.acquire(SRC, token=token, now=clock.advance(step)).granted
    return granted


def test_the_server_s_smaller_remaining_wins_over_our_own_count(make_limiter, clock):
    limiter = make_limiter(RATES)
    sent = limiter.acquire(SRC, token="tok", now=clock())
    # Someone else used this token: the server has 3 left though we sent only one.
    limiter.observe(
        SRC, token="tok", limit=1000, remaining=3, reset_at=T0 + 30, sent_at=sent.at,
        now=clock.advance(0.2),
    )  # fmt: skip
    assert grant_count(limiter, clock, tries=10) == 3
    refused = limiter.acquire(SRC, token="tok", now=clock())
    assert refused.reason == f"rate:{SRC}:server"
    assert refused.wait == pytest.approx(T0 + 30 + 0.5 - clock(), abs=1e-6)
    # Another token is counted separately by the server.
    assert limiter.acquire(SRC, token="other", now=clock()).granted
    # After the reset the server's budget no longer applies.
    assert limiter.acquire(SRC, token="tok", now=T0 + 30.5).granted


def test_remaining_zero_stops_everything_until_reset(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="tok", limit=None, remaining=0, reset_at=T0 + 12, now=clock())
    for t in (T0, T0 + 5, T0 + 12.0, T0 + 12.499):
        refused = limiter.acquire(SRC, token="tok", now=t)
        assert not refused.granted
        assert refused.reason == f"rate:{SRC}:server"
    assert limiter.acquire(SRC, token="tok", now=T0 + 12.5).granted


def test_reset_in_delta_seconds_and_missing_reset(make_limiter, clock):
    """express-rate-limit sends seconds from now; no reset at all means a whole minute."""
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="a", limit=100, remaining=0, reset_at=7, now=clock())
    assert limiter.acquire(SRC, token="a", now=T0 + 7.49).reason == f"rate:{SRC}:server"
    assert limiter.acquire(SRC, token="a", now=T0 + 7.5).granted
    limiter.observe(SRC, token="b", limit=None, remaining=0, reset_at=None, now=clock())
    assert not limiter.acquire(SRC, token="b", now=T0 + 59.9).granted
    assert limiter.acquire(SRC, token="b", now=T0 + 60.5).granted


def test_a_far_reset_is_capped_at_a_day(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="tok", limit=None, remaining=0, reset_at=T0 + 9e6, now=clock())
    refused = limiter.acquire(SRC, token="tok", now=clock())
    assert refused.wait == pytest.approx(86400.5, abs=1e-3)


def test_grants_after_the_request_left_are_counted_against_the_budget(make_limiter, clock):
    """The server may not have counted requests sent after ours: they spend the budget."""
    limiter = make_limiter(RATES)
    ours = limiter.acquire(SRC, token="tok", now=clock())
    for _ in range(3):  # three more requests leave while ours is in flight
        assert limiter.acquire(SRC, token="tok", now=clock.advance(0.05)).granted
    limiter.observe(
        SRC, token="tok", limit=100, remaining=5, reset_at=T0 + 40, sent_at=ours.at,
        now=clock.advance(0.05),
    )  # fmt: skip
    # 5 left when ours was answered, minus the 3 that left after ours.
    assert grant_count(limiter, clock, tries=5) == 2


def test_without_sent_at_the_last_ten_seconds_are_assumed_in_flight(make_limiter, clock):
    limiter = make_limiter(RATES)
    for _ in range(4):
        limiter.acquire(SRC, token="tok", now=clock.advance(1.0))
    limiter.acquire(SRC, token="tok", now=T0 - 20)  # long gone
    limiter.observe(SRC, token="tok", limit=None, remaining=6, reset_at=T0 + 50, now=clock())
    assert grant_count(limiter, clock, tries=5) == 2


def test_the_learned_limit_is_a_per_minute_rate(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="tok", limit=3, remaining=None, reset_at=None, now=clock())
    assert grant_count(limiter, clock, tries=10, step=1.0) == 3
    refused = limiter.acquire(SRC, token="tok", now=clock())
    assert refused.reason == f"rate:{SRC}:server"
    # The first of the three was granted at T0 + 1: it leaves the window at T0 + 61.03.
    assert refused.wait == pytest.approx(T0 + 61.03 + 0.001 - clock(), abs=1e-6)
    assert limiter.acquire(SRC, token="tok", now=T0 + 61.04).granted


def test_within_a_window_the_tighter_word_wins(make_limiter, clock):
    limiter = make_limiter(RATES)
    sent = limiter.acquire(SRC, token="tok", now=clock())
    limiter.observe(
        SRC, token="tok", limit=None, remaining=2, reset_at=T0 + 30, sent_at=sent.at,
        now=clock(),
    )  # fmt: skip
    # A late answer from the same window with more room left does not loosen the budget.
    limiter.observe(
        SRC, token="tok", limit=None, remaining=40, reset_at=T0 + 30.5, sent_at=sent.at,
        now=clock(),
    )  # fmt: skip
    assert grant_count(limiter, clock, tries=10) == 2


def test_a_new_window_replaces_the_old_one_and_a_stale_answer_is_ignored(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="tok", limit=None, remaining=0, reset_at=T0 + 10, now=clock())
    assert not limiter.acquire(SRC, token="tok", now=clock.advance(5)).granted
    # A fresh window (reset later) with room: granted at once.
    limiter.observe(SRC, token="tok", limit=None, remaining=50, reset_at=T0 + 70, now=clock())
    assert limiter.acquire(SRC, token="tok", now=clock.advance(0.1)).granted
    # A late answer from the previous window changes nothing.
    limiter.observe(SRC, token="tok", limit=None, remaining=0, reset_at=T0 + 10, now=clock())
    assert limiter.acquire(SRC, token="tok", now=clock.advance(0.1)).granted


def test_headers_without_limit_or_remaining_change_nothing(make_limiter, clock):
    limiter = make_limiter(RATES)
    limiter.observe(SRC, token="tok", limit=None, remaining=None, reset_at=T0, now=clock())
    assert grant_count(limiter, clock, tries=10) == 10


def test_the_dashboard_shows_the_server_budget(make_limiter, clock):
    limiter = make_limiter(RATES)
    sent = limiter.acquire(SRC, token="tok", now=clock())
    limiter.observe(
        SRC, token="tok", limit=600, remaining=7, reset_at=T0 + 30, sent_at=sent.at,
        now=clock(),
    )  # fmt: skip
    limiter.acquire(SRC, token="tok", now=clock.advance(0.1))
    state = limiter.breaker(SRC, now=clock())
    assert state.server_remaining == 6  # 7 when ours was answered, minus one since
    assert state.server_reset_at == pytest.approx(T0 + 30.5)
    uses = {use.scope.split(":")[0]: use for use in state.rates}
    assert (uses["server"].limit, uses["server"].window, uses["server"].used) == (600, 60.0, 2)
    assert (uses["token"].limit, uses["token"].window, uses["token"].used) == (20, 1.0, 2)
    assert (uses["ip"].limit, uses["ip"].window, uses["ip"].used) == (1000, 60.0, 2)
    assert uses["ip"].scope == "ip:test-host"
