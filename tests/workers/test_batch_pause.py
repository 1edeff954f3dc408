"""Pausing a batch with real Celery worker and beat processes: calls in flight finish, no new
call goes upstream while it is paused, and on resume the rest runs, each request once."""

import time

import pytest

from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with
from tests.workers.batches import assert_each_ended_exactly_once
from tests.workers.cluster import wait_for
from verifications.enums import BatchStatus, ClaimKind, RequestState, Verdict
from verifications.models import Batch, VerificationRequest
from verifications.services.batches import batch_pause, batch_resume, batch_verification_launch


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_paused_batch_sends_nothing_upstream_until_resumed(cluster, sandbox_settings, figures):
    sandbox_settings.configure(latency_ms=300)
    institution = InstitutionFactory()
    user = UserFactory(institution=institution, supervisor=True)
    enrolled = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claims = [claim_for(enrolled, ClaimKind.SCOLARITE, institution) for _ in range(16)]
    batch = batch_verification_launch(acting_user=user, claims=claims, label="pause")
    cluster.start_worker("w1", concurrency=2)
    cluster.start_beat()

    def done() -> int:
        return VerificationRequest.objects.filter(batch=batch, state=RequestState.DONE).count()

    assert wait_for(lambda: done() >= 2, timeout=60), cluster.log("w1")[-3000:]
    batch_pause(batch=batch, acting_user=user)
    # The calls in flight end; then nothing more goes upstream while paused.
    assert wait_for(
        lambda: (
            not VerificationRequest.objects.filter(batch=batch, state=RequestState.RUNNING).exists()
        ),
        timeout=30,
    )
    time.sleep(1)
    calls_at_pause = sandbox_settings.stats()["total"]["requests"]
    done_at_pause = done()
    time.sleep(6)  # several dispatcher ticks, and longer than the stale-enqueue limit
    assert sandbox_settings.stats()["total"]["requests"] == calls_at_pause
    assert done() == done_at_pause < len(claims)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.PAUSED

    batch_resume(batch=batch, acting_user=user)
    resumed_at = time.monotonic()
    assert wait_for(
        lambda: Batch.objects.get(pk=batch.pk).status == BatchStatus.DONE, timeout=90
    ), cluster.log("w1")[-3000:]
    assert_each_ended_exactly_once(batch, claims)
    assert set(
        VerificationRequest.objects.filter(batch=batch).values_list("verdict", flat=True)
    ) == {Verdict.CONFIRMED}
    figures(
        f"{len(claims)} requests; paused after {done_at_pause} done, no upstream call in 6 s "
        f"while paused; resumed, all done {time.monotonic() - resumed_at:.1f} s later"
    )
