"""Window semantics of ``acquire``, on both backends, with a fake clock."""

import hashlib
import random
import sqlite3

import pytest
import redis

from tests.limits.conftest import T0
from tests.limits.windows import busiest_window
from verifications.providers.limits.base import token_fingerprint


SRC = "api_particulier"


def test_no_window_ever_holds_more_than_the_limit_and_no_refusal_is_wasted(make_limiter, clock):
    """Random arrivals: every 1-s window holds at most 5 grants, and every refusal happened
    while the last 1.03 s (window + margin) really held 5 grants (no slot is wasted)."""
    limiter = make_limiter({SRC: {"token": [(5, 1.0)]}})
    rng = random.Random(4)
    grants, refused = [], 0
    for _ in range(400):
        t = clock.advance(rng.expovariate(12.0))  # ~12 requests/s against a 5/s limit
        decision = limiter.acquire(SRC, token="tok", now=t)
        if decision.granted:
            assert decision.at == t
            assert decision.wait == 0.0
            assert decision.reason == ""
            grants.append(t)
        else:
            refused += 1
            assert decision.reason == f"rate:{SRC}:token"
            assert sum(1 for g in grants if g > t - 1.03) == 5
            assert 0 < decision.wait <= 1.031 + 1e-9
    assert busiest_window(grants, 1.0) == 5
    assert refused > 100
    assert len(grants) > 100


def test_the_window_slides_instead_of_resetting(make_limiter, clock):
    """Five grants late in one second: the next second starts with no room."""
    limiter = make_limiter({SRC: {"token": [(5, 1.0)]}})
    clock.advance(0.9)
    for _ in range(5):
        assert limiter.acquire(SRC, token="tok", now=clock()).granted
    # A fixed-window counter would allow 5 more at T0 + 1.1.
    assert not limiter.acquire(SRC, token="tok", now=T0 + 1.1).granted
    assert not limiter.acquire(SRC, token="tok", now=T0 + 1.9299).granted
    assert limiter.acquire(SRC, token="tok", now=T0 + 1.9301).granted


def test_wait_says_when_asking_again_succeeds(make_limiter, clock):
    limiter = make_limiter({SRC: {"token": [(2, 1.0)]}})
    assert limiter.acquire(SRC, now=clock()).granted
    assert limiter.acquire(SRC, now=clock.advance(0.4)).granted
    refused = limiter.acquire(SRC, now=clock.advance(0.1))
    assert not refused.granted
    # The oldest grant (T0) leaves the 1.03-s window at T0 + 1.03.
    assert refused.wait == pytest.approx(T0 + 1.03 - clock() + 0.001, abs=1e-6)
    assert not limiter.acquire(SRC, now=clock() + refused.wait - 0.01).granted
    assert limiter.acquire(SRC, now=clock() + refused.wait).granted


def test_several_rates_in_one_scope(make_limiter, clock):
    """Both 3/1s and 4/10s hold; the wait comes from the rate that blocks longest."""
    limiter = make_limiter({SRC: {"source": [(3, 1.0), (4, 10.0)]}})
    for _ in range(3):
        assert limiter.acquire(SRC, now=clock()).granted
    assert limiter.acquire(SRC, now=clock.advance(1.1)).granted
    refused = limiter.acquire(SRC, now=clock.advance(1.1))
    assert not refused.granted
    assert refused.reason == f"rate:{SRC}:source"
    assert refused.wait == pytest.approx(T0 + 10.03 - clock() + 0.001, abs=1e-6)


def test_all_or_nothing_across_buckets(make_limiter, clock):
    """A request refused by the IP bucket takes no slot in its token bucket."""
    limiter = make_limiter({SRC: {"token": [(2, 10.0)], "ip": [(3, 1.0)]}})
    assert limiter.acquire(SRC, token="A", now=clock()).granted
    assert limiter.acquire(SRC, token="A", now=clock()).granted
    assert limiter.acquire(SRC, token="B", now=clock()).granted
    for _ in range(5):
        refused = limiter.acquire(SRC, token="B", now=clock.advance(0.1))
        assert not refused.granted
        assert refused.reason == f"rate:{SRC}:ip"
    # The IP window has moved on; B's token bucket still holds only its one grant.
    assert limiter.acquire(SRC, token="B", now=clock.advance(0.6)).granted
    refused = limiter.acquire(SRC, token="B", now=clock())
    assert refused.reason == f"rate:{SRC}:token"
    # And A is still refused by its own token bucket, not by the IP one.
    assert limiter.acquire(SRC, token="A", now=clock()).reason == f"rate:{SRC}:token"


def test_the_longest_wait_wins_when_several_buckets_refuse(make_limiter, clock):
    limiter = make_limiter({SRC: {"token": [(1, 5.0)], "ip": [(1, 1.0)]}})
    assert limiter.acquire(SRC, token="A", now=clock()).granted
    refused = limiter.acquire(SRC, token="A", now=clock.advance(0.5))
    assert refused.reason == f"rate:{SRC}:token"
    assert refused.wait == pytest.approx(5.03 - 0.5 + 0.001, abs=1e-6)


def test_egress_identities_have_their_own_ip_budget(make_limiter, clock):
    here = make_limiter({SRC: {"ip": [(1, 60.0)]}}, egress_id="host-a")
    there = make_limiter({SRC: {"ip": [(1, 60.0)]}}, egress_id="host-b")
    assert here.acquire(SRC, now=clock()).granted
    assert not here.acquire(SRC, now=clock()).granted
    assert there.acquire(SRC, now=clock()).granted


def test_source_scope_is_shared_by_every_token_and_machine(make_limiter, clock):
    here = make_limiter({"cvec": {"source": [(2, 1.0)]}}, egress_id="host-a")
    there = make_limiter({"cvec": {"source": [(2, 1.0)]}}, egress_id="host-b")
    assert here.acquire("cvec", token="A", now=clock()).granted
    assert there.acquire("cvec", token="B", now=clock()).granted
    assert here.acquire("cvec", token="C", now=clock()).reason == "rate:cvec:source"


def test_a_source_without_configured_limits_is_only_guarded_by_its_breaker(make_limiter, clock):
    limiter = make_limiter({SRC: {"token": [(1, 1.0)]}})
    assert all(limiter.acquire("cvec", now=clock()).granted for _ in range(50))


def test_source_names_are_validated(make_limiter):
    limiter = make_limiter({})
    with pytest.raises(ValueError, match="invalid source name"):
        limiter.acquire("API Particulier")


def test_tokens_never_reach_the_shared_state_or_the_logs(make_limiter, backend, clock, caplog):
    token = "eyJhbGciOiJIUzI1NiJ9.secret-token-value"
    limiter = make_limiter({SRC: {"token": [(1, 1.0)], "ip": [(5, 60.0)]}}, failure_threshold=1)
    caplog.set_level("DEBUG")
    limiter.acquire(SRC, token=token, now=clock())
    limiter.acquire(SRC, token=token, now=clock())
    limiter.observe(SRC, token=token, limit=50, remaining=3, reset_at=T0 + 30, now=clock())
    limiter.record_failure(
        SRC, error="Jean Dupont 2012-08-15", subject="Jean Dupont 2012-08-15", now=clock()
    )
    limiter.record_success(SRC, subject="Marie Dupont 2011-01-02", now=clock())
    limiter.set_aside(SRC, subject="Paul Dupont 2010-03-04", now=clock())
    state = limiter.breaker(SRC, now=clock())

    fingerprint = token_fingerprint(token)
    assert fingerprint == hashlib.sha256(token.encode()).hexdigest()[:16]
    assert token not in repr(state)
    assert f"token:{fingerprint}" in {use.scope for use in state.rates}
    assert state.last_error == "unspecified"
    assert token not in caplog.text
    assert "Dupont" not in caplog.text

    if backend[0] == "local":
        db = sqlite3.connect(backend[1])
        dump = "\n".join(db.iterdump())
        db.close()
    else:
        client = redis.Redis.from_url(backend[1])
        dump = "\n".join(k.decode() for k in client.keys("*"))
        for key in client.keys("*"):
            if client.type(key) == b"hash":
                dump += repr(client.hgetall(key))
            else:
                dump += repr(client.zrange(key, 0, -1))
        client.close()
    assert fingerprint in dump
    assert "secret-token-value" not in dump
    assert "Dupont" not in dump
