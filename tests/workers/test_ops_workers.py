"""Operations with real processes: Celery workers and beat started as in production, with
VIGIE_LOG_FORMAT=json. The web scrape (the Django test client, in this process) adds up the
workers' counters, beat's dispatcher tick makes /readyz ready, and the workers' log lines are
JSON with the verification request ids and the sources' request ids."""

import json
import os

import pytest
from django.urls import reverse

from tests.factories import InstitutionFactory, UserFactory
from tests.ops.test_metrics import AUTH, TOKEN, samples, scrape, value
from tests.verifications.helpers import answering_people, claim_for
from tests.workers.cluster import wait_for
from verifications.enums import ClaimKind, RequestState, Trigger
from verifications.models import Batch, VerificationRequest
from verifications.services import verification_requests_create


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_workers_counters_and_beats_tick_reach_the_web_process(
    cluster, broker, sandbox_settings, settings, client
):
    settings.VIGIE_METRICS_TOKEN = TOKEN
    # What the workers and beat share with this process: their var/ (the heartbeat's file
    # store without Redis) or their Redis (its cache), and their broker.
    settings.VAR_DIR = cluster.directory / "var"
    caches = settings.CACHES
    if broker["server"] is not None:
        db = os.environ.get("VIGIE_TEST_REDIS_DB", "8")  # as tests/settings.py picks it
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{broker['server'].port}/{db}",
            }
        }
        settings.CELERY_BROKER_URL = broker["server"].url
    cluster.env["VIGIE_LOG_FORMAT"] = "json"
    before = samples(scrape(client))
    calls = value(before, "vigie_upstream_calls_total", source="api_particulier", status="200")

    cluster.start_worker("w1", concurrency=2)
    cluster.start_beat()
    institution = InstitutionFactory()
    people = answering_people(6)
    claims = [claim_for(p, ClaimKind.SCOLARITE, institution) for p in people]
    batch = Batch.objects.create(
        institution=institution, kind="verification", label="ops", total=len(claims)
    )
    verification_requests_create(
        claims=claims,
        acting_user=UserFactory(institution=institution, supervisor=True),
        trigger=Trigger.BATCH,
        batch=batch,
    )

    def finished() -> bool:
        return (
            not VerificationRequest.objects.filter(batch=batch)
            .exclude(state=RequestState.DONE)
            .exists()
        )

    assert wait_for(finished, timeout=90), cluster.log("w1")[-3000:]
    found = samples(scrape(client))
    assert value(found, "vigie_upstream_calls_total", source="api_particulier", status="200") == (
        calls or 0
    ) + len(claims)
    assert value(found, "vigie_dispatcher_last_tick_timestamp_seconds") > 0
    assert value(found, "vigie_metrics_part_up", part="broker") == 1
    if broker["server"] is not None:
        assert value(found, "vigie_broker_queue_length", queue="gov_api") == 0

    ready = client.get(reverse("readyz")).json()
    checks = {check["name"]: check for check in ready["checks"]}
    assert checks["dispatcher"]["ok"], checks["dispatcher"]
    assert checks["broker"]["ok"], checks["broker"]

    entries = [json.loads(line) for line in cluster.log("w1").splitlines() if line[:1] == "{"]
    calls_logged = [e for e in entries if e.get("http_status") == 200]
    ids = {r.pk for r in VerificationRequest.objects.filter(batch=batch)}
    assert {e["verification_request_id"] for e in calls_logged} == ids
    assert all(e["task"] == "verifications.verification_run" for e in calls_logged)
    assert all(e["upstream_request_id"] for e in calls_logged)
    for p in people:
        assert p.birth_name not in cluster.log("w1")
    assert client.get(reverse("metrics"), headers=AUTH).status_code == 200
    settings.CACHES = caches  # before the Redis of the cluster stops (the cache is cleared after)
