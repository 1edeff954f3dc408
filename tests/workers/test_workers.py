"""The pipeline with real Celery worker and beat processes: a worker killed with SIGKILL
mid-call, the broker down for a while, a source failing at random, identical requests. Every
request must end exactly once, none lost, none duplicated, and the sources' limits respected.
"""

import time
from collections import Counter

import pytest
from django.db.models import Count

from tests.workers.batches import (
    EXPECTED,
    assert_each_ended_exactly_once,
    batch_done,
    batch_of,
)
from tests.workers.cluster import wait_for
from verifications.enums import ClaimKind, RequestState, Verdict
from verifications.models import VerificationRequest


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_call_leaves_nothing_unfinished(cluster, sandbox_settings, figures):
    sandbox_settings.configure(latency_ms=400)
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.start_beat()
    batch, claims = batch_of([ClaimKind.SCOLARITE, ClaimKind.CVEC], per_kind=12)
    started = time.monotonic()

    def w1_mid_call() -> bool:
        pids = cluster.pids_of("w1")
        running = VerificationRequest.objects.filter(batch=batch, state=RequestState.RUNNING)
        return any(
            int(r.split(":")[1]) in pids for r in running.values_list("claimed_by", flat=True)
        )

    assert wait_for(w1_mid_call, timeout=30, interval=0.05), cluster.log("w1")[-2000:]
    victim = VerificationRequest.objects.filter(batch=batch, state=RequestState.RUNNING).first()
    cluster.kill("w1")
    killed_at = time.monotonic()
    assert wait_for(lambda: batch_done(batch), timeout=120), cluster.log("w2")[-3000:]
    elapsed = time.monotonic() - started

    assert_each_ended_exactly_once(batch, claims)
    verdicts = Counter(
        VerificationRequest.objects.filter(batch=batch).values_list("verdict", flat=True)
    )
    assert verdicts == {Verdict.CONFIRMED: len(claims)}
    calls = sandbox_settings.stats()["total"]["requests"]
    figures(
        f"{len(claims)} requests, worker w1 SIGKILLed {killed_at - started:.1f} s in "
        f"(mid-call on request {victim.pk if victim else '?'}); all done after {elapsed:.1f} s; "
        f"upstream calls {calls} (at most one repeated per call cut short); "
        f"verdicts {dict(verdicts)}"
    )
    assert len(claims) <= calls <= len(claims) + 2


def test_broker_down_for_a_while_loses_nothing(cluster, broker, sandbox_settings, figures):
    if broker["server"] is None:
        pytest.skip("redis-server is not installed: cannot stop and restart a broker here")
    sandbox_settings.configure(latency_ms=100)
    cluster.env["VERIFICATION_RATE_LIMIT_API_PARTICULIER_TOKEN"] = "5/1s"
    cluster.start_worker("w1", concurrency=2)
    cluster.start_beat()
    batch, claims = batch_of([ClaimKind.SCOLARITE], per_kind=40)
    started = time.monotonic()
    assert wait_for(
        lambda: (
            VerificationRequest.objects.filter(batch=batch, state=RequestState.DONE).count() >= 5
        ),
        timeout=30,
    )
    done_before = VerificationRequest.objects.filter(batch=batch, state=RequestState.DONE).count()
    broker["server"].stop()
    down_at = time.monotonic()
    time.sleep(8)
    done_while_down = VerificationRequest.objects.filter(
        batch=batch, state=RequestState.DONE
    ).count()
    broker["server"].start()
    up_at = time.monotonic()
    assert wait_for(lambda: batch_done(batch), timeout=150), cluster.log("w1")[-3000:]
    elapsed = time.monotonic() - started

    assert_each_ended_exactly_once(batch, claims)
    verdicts = Counter(
        VerificationRequest.objects.filter(batch=batch).values_list("verdict", flat=True)
    )
    assert verdicts == {Verdict.CONFIRMED: len(claims)}
    figures(
        f"{len(claims)} requests; Redis (broker and limiter) stopped {down_at - started:.1f} s in "
        f"for {up_at - down_at:.1f} s with {done_before} done; {done_while_down - done_before} "
        f"finished while it was down (calls already granted); "
        f"all done {elapsed:.1f} s after the start"
    )


def test_a_failing_source_never_sees_more_than_its_limits(cluster, sandbox_settings, figures):
    # The sandbox enforces API Particulier's limits scaled down; Vigie is configured alike.
    # 429s at random from API Particulier, whose 429s carry Retry-After (the others' would make
    # Vigie wait a minute each: they have no documented hint).
    sandbox_settings.configure(
        particulier_token_limit=8,
        particulier_token_window=1.0,
        error_rates={"502": 0.12, "504": 0.05},
        timeout_rate=0.05,
        timeout_seconds=3,
        latency_ms=30,
        latency_jitter_ms=60,
        apis={"particulier": {"error_rates": {"502": 0.1, "504/30002": 0.05, "429": 0.2}}},
        seed=7,
    )
    cluster.env.update(
        {
            "VERIFICATION_RATE_LIMIT_API_PARTICULIER_TOKEN": "8/1s",
            "API_PARTICULIER_TIMEOUT": "1",
            "CVEC_TIMEOUT": "1",
            "CERTIFINFO_TIMEOUT": "1",
            "COVOITURAGE_TIMEOUT": "1",
            "VERIFICATION_MAX_FAILURES": "4",
            "VERIFICATION_BREAKER_OPEN_SECONDS": "2",
        }
    )
    cluster.start_worker("w1", concurrency=2)
    cluster.start_worker("w2", concurrency=2)
    cluster.start_beat()
    batch, claims = batch_of(list(EXPECTED), per_kind=12)
    started = time.monotonic()
    assert wait_for(lambda: batch_done(batch), timeout=240), cluster.log("w1")[-3000:]
    elapsed = time.monotonic() - started

    assert_each_ended_exactly_once(batch, claims)
    by_kind = (
        VerificationRequest.objects.filter(batch=batch)
        .values("source", "verdict")
        .annotate(n=Count("id"))
    )
    for row in by_kind:
        assert row["verdict"] in {Verdict.CONFIRMED, Verdict.UNAVAILABLE}, row
    stats = sandbox_settings.stats()
    particulier = stats["apis"]["particulier"]
    assert particulier["max_per_second"] <= 8
    assert stats["bans"] == {}
    assert "409" not in stats["total"]["statuses"]  # holds outlive a call cut short
    statuses = stats["total"]["statuses"]
    figures(
        f"{len(claims)} requests of 4 kinds done in {elapsed:.1f} s; upstream answers {statuses}, "
        f"no answer (timeouts) {stats['total']['no_answer']}; API Particulier busiest second "
        f"{particulier['max_per_second']} (limit 8), "
        f"busiest minute {particulier['max_per_minute']}; "
        f"bans {stats['bans'] or 'none'}; verdicts {list(by_kind)}"
    )


def test_identical_requests_are_never_in_flight_together(cluster, sandbox_settings, figures):
    sandbox_settings.configure(latency_ms=300)
    cluster.start_worker("w1", concurrency=2)
    cluster.start_worker("w2", concurrency=2)
    cluster.start_beat()
    # Twenty applicants with the very same identity and school: twenty identical calls.
    batch, claims = batch_of([ClaimKind.SCOLARITE], per_kind=20)
    started = time.monotonic()
    assert wait_for(lambda: batch_done(batch), timeout=120), cluster.log("w1")[-3000:]
    elapsed = time.monotonic() - started

    assert_each_ended_exactly_once(batch, claims)
    stats = sandbox_settings.stats()
    assert stats["total"]["max_in_flight"] == 1
    assert "409" not in stats["total"]["statuses"]
    figures(
        f"20 identical requests on 4 worker processes: done in {elapsed:.1f} s, "
        f"{stats['total']['requests']} upstream calls, at most {stats['total']['max_in_flight']} "
        f"in flight, statuses {stats['total']['statuses']}"
    )
