"""Holds: at most one identical request in flight, across every process of the backend."""

import time


def test_a_hold_is_exclusive_until_released(make_limiter):
    first, second = make_limiter({}), make_limiter({})  # two processes' views of one state
    assert first.hold("inflight:x", 5.0) is True
    assert second.hold("inflight:x", 5.0) is False
    assert second.hold("inflight:y", 5.0) is True  # other parameters are independent
    first.release("inflight:x")
    assert second.hold("inflight:x", 5.0) is True


def test_a_hold_ends_by_itself(make_limiter):
    limiter = make_limiter({})
    assert limiter.hold("inflight:x", 0.2) is True
    assert limiter.hold("inflight:x", 0.2) is False
    time.sleep(0.25)
    assert limiter.hold("inflight:x", 0.2) is True
