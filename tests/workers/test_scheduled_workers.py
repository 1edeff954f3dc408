"""Scheduled re-verification with real Celery workers and beat: the re-checks a tick queues
reach the source no faster than the institution's share of its rate."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sandbox.population import CvecOutcome
from tests.factories import InstitutionFactory
from tests.verifications.helpers import claim_for, person_with
from tests.workers.cluster import wait_for
from verifications.enums import ClaimKind, RequestState, Source, Trigger, Verdict
from verifications.models import Claim, InstitutionPolicy, VerificationRequest
from verifications.providers.limits import reset_limiter_cache
from verifications.services.policies import institution_policy_get
from verifications.services.scheduled import scheduled_reverification_tick


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PARIS = ZoneInfo("Europe/Paris")
N = 12


def test_scheduled_rechecks_use_only_their_share_of_the_source(
    cluster, sandbox_settings, settings, figures
):
    # CVEC limited to 60/min (1/s) in Vigie, here and in the workers; the institution gives
    # re-checks 50 %: one every 2 s at most. The limiter alone would let 4 workers send at once.
    limits = dict(settings.VERIFICATION_RATE_LIMITS)
    limits[Source.CVEC] = {"source": [(60, 60.0)], "token": [], "ip": []}
    settings.VERIFICATION_RATE_LIMITS = limits
    reset_limiter_cache()
    cluster.env["VERIFICATION_RATE_LIMIT_CVEC_SOURCE"] = "60/1m"

    institution = InstitutionFactory()
    here = timezone.now().astimezone(PARIS)
    InstitutionPolicy.objects.filter(pk=institution_policy_get(institution).pk).update(
        night_start=(here - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
        night_end=(here + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0),
        scheduled_share=50,
    )
    base = person_with(cvec=CvecOutcome.VALID)
    claims = [claim_for(base, ClaimKind.CVEC, institution) for _ in range(N)]
    # Checked before this campaign's enrolment day: due under the default CVEC policy.
    Claim.objects.filter(pk__in=[c.pk for c in claims]).update(
        verdict=Verdict.CONFIRMED, verified_at=timezone.now() - dt.timedelta(days=120)
    )

    cluster.start_worker("w1", concurrency=2)
    cluster.start_worker("w2", concurrency=2)
    cluster.start_beat()
    started = time.monotonic()
    report = scheduled_reverification_tick()
    assert report.queued == {Source.CVEC: N}
    scheduled = VerificationRequest.objects.filter(trigger=Trigger.SCHEDULED)
    assert wait_for(lambda: not scheduled.exclude(state=RequestState.DONE).exists(), timeout=120), (
        cluster.log("w1")[-3000:]
    )
    elapsed = time.monotonic() - started

    assert scheduled.count() == N
    assert set(scheduled.values_list("verdict", flat=True)) == {Verdict.CONFIRMED}
    stats = sandbox_settings.stats()["apis"]["cvec"]
    assert stats["requests"] == N
    assert stats["max_per_second"] <= 2
    # N re-checks one every 2 s: not sooner than (N - 1) * 2 s, less the dispatcher's tick.
    assert elapsed >= (N - 1) * 2 - 4
    figures(
        f"{N} scheduled CVEC re-checks at 50 % of 1/s took {elapsed:.1f} s; "
        f"busiest second at the source {stats['max_per_second']}, "
        f"busiest minute {stats['max_per_minute']}"
    )
