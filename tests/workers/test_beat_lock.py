"""Exactly one beat sends the schedule: two real beat processes started by mistake send one
beat's worth of ticks (the other stands by, and says so), and when the active one is killed the
standby takes over within the lock's TTL plus a renewal (``admissions/infra/beat.py``)."""

import re
import time

import pytest

from tests.workers.cluster import wait_for


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TTL = 4.0
RENEW = 1.0
# The dispatcher's tick (admissions/celery.py): one every 2 s from one beat.
DISPATCH_EVERY = 2.0
WINDOW = 20.0
RECEIVED = re.compile(r"Task verifications\.dispatch\[[0-9a-f-]+\] received")
SENT = "Sending due task verifications-dispatch"


def test_two_beats_send_one_beats_worth_and_the_standby_takes_over(cluster, figures):
    cluster.env.update(
        {"VIGIE_BEAT_LOCK_TTL_SECONDS": str(TTL), "VIGIE_BEAT_LOCK_RENEW_SECONDS": str(RENEW)}
    )
    cluster.start_worker("w1")

    def ticks() -> int:
        return len(RECEIVED.findall(cluster.log("w1")))

    def sent(beat: str) -> int:
        return cluster.log(beat).count(SENT)

    cluster.start_beat("beat-a")
    assert wait_for(lambda: "beat lock taken" in cluster.log("beat-a"), timeout=60), cluster.log(
        "beat-a"
    )[-3000:]
    cluster.start_beat("beat-b")
    assert wait_for(lambda: "stands by" in cluster.log("beat-b"), timeout=60), cluster.log(
        "beat-b"
    )[-3000:]
    assert wait_for(lambda: ticks() >= 2, timeout=60), cluster.log("w1")[-3000:]

    # Both beats running: count what the worker actually receives over the window.
    before, sent_before = ticks(), sent("beat-a") + sent("beat-b")
    standby_before = sent("beat-b")
    time.sleep(WINDOW)
    received = ticks() - before
    sent_in_window = sent("beat-a") + sent("beat-b") - sent_before
    one_beat = WINDOW / DISPATCH_EVERY
    assert sent("beat-b") == standby_before == 0
    assert one_beat * 0.5 <= received <= one_beat * 1.3 + 1

    # The active beat dies (SIGKILL: no release, its lease runs out): the standby takes over.
    cluster.kill("beat-a")
    killed_at = time.monotonic()
    assert wait_for(lambda: sent("beat-b") >= 1, timeout=TTL + RENEW + 30, interval=0.05), (
        cluster.log("beat-b")[-3000:]
    )
    takeover = time.monotonic() - killed_at
    after_takeover = ticks()
    time.sleep(WINDOW / 2)
    received_after = ticks() - after_takeover

    assert "beat lock taken" in cluster.log("beat-b")
    assert takeover <= TTL + RENEW + 10  # the bound is TTL + RENEW; the rest is a loaded machine
    assert one_beat / 2 * 0.5 <= received_after <= one_beat / 2 * 1.3 + 1
    standby_lines = [line for line in cluster.log("beat-b").splitlines() if "stands by" in line]
    figures(
        f"two beats for {WINDOW:.0f} s: the worker received {received} dispatch ticks "
        f"(one beat: {one_beat:.0f}; sent by the active {sent_in_window}, by the standby 0); "
        f"active beat SIGKILLed: the standby sent its first tick {takeover:.1f} s later "
        f"(TTL {TTL:.0f} s + renewal {RENEW:.0f} s), then {received_after} ticks in "
        f"{WINDOW / 2:.0f} s; the standby's log said: {standby_lines[0].split(' WARNING ')[-1]}"
    )
