"""/metrics: protected, aggregated over processes, and free of personal data.

The batch test runs real checks through the pipeline against the sandbox over HTTP and scrapes
with the Django test client between them, as Prometheus would during a batch.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from admissions.models import AuditEvent
from admissions.tasks import audit_chain_check_task
from bench.stack import free_port
from tests.admissions.test_audit import _events, _tamper
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import answering_people, claim_for, run_until_done
from verifications.enums import BatchKind, ClaimKind, RequestState, Trigger
from verifications.models import Batch, VerificationRequest
from verifications.providers.limits import get_limiter
from verifications.services import verification_requests_create, verification_run
from verifications.tasks import verification_dispatch_task, verification_run_task


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

TOKEN = "metrics-test-token-5f0c2b9e71"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token(settings):
    settings.VIGIE_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client) -> str:
    response = client.get(reverse("metrics"), headers=AUTH)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


# --- Protection -------------------------------------------------------------------------------


def test_off_without_a_token_or_a_network(client, settings):
    settings.VIGIE_METRICS_TOKEN = ""
    settings.VIGIE_METRICS_ALLOWED_NETWORKS = []
    response = client.get(reverse("metrics"), headers=AUTH)
    assert response.status_code == 404
    assert b"vigie_" not in response.content


def test_the_bearer_token_is_enforced(client, token):
    url = reverse("metrics")
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"] == 'Bearer realm="vigie-metrics"'
        assert b"vigie_" not in response.content
    assert "vigie_metrics_part_up" in scrape(client)


def test_the_network_allow_list(client, settings):
    settings.VIGIE_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    url = reverse("metrics")
    assert client.get(url).status_code == 403  # the test client is 127.0.0.1
    assert client.get(url, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(url, REMOTE_ADDR="fd00::7").status_code == 200
    # Behind a trusted proxy, the address it saw.
    settings.VIGIE_TRUST_X_FORWARDED_FOR = True
    assert client.get(url, headers={"X-Forwarded-For": "10.9.9.9"}).status_code == 200
    assert client.get(url, headers={"X-Forwarded-For": "10.9.9.9, 192.0.2.1"}).status_code == 403
    # With a token too, both are required.
    settings.VIGIE_TRUST_X_FORWARDED_FOR = False
    settings.VIGIE_METRICS_TOKEN = TOKEN
    assert client.get(url, REMOTE_ADDR="10.1.2.3").status_code == 401
    assert client.get(url, headers=AUTH).status_code == 403
    assert client.get(url, REMOTE_ADDR="10.1.2.3", headers=AUTH).status_code == 200


# --- What a scrape shows ----------------------------------------------------------------------


def test_a_scrape_during_a_batch_shows_its_progress_and_no_personal_data(client, token):
    institution = InstitutionFactory()
    supervisor = UserFactory(institution=institution, supervisor=True)
    people = answering_people(4)
    claims = [claim_for(p, ClaimKind.SCOLARITE, institution) for p in people]
    batch = Batch.objects.create(
        institution=institution,
        kind=BatchKind.VERIFICATION,
        label=f"Rentrée {people[0].birth_name}",
        total=len(claims),
    )
    verification_requests_create(
        claims=claims, acting_user=supervisor, trigger=Trigger.BATCH, batch=batch
    )
    labels = {"batch": str(batch.pk), "institution": str(institution.pk)}
    texts = []

    texts.append(scrape(client))
    before = samples(texts[-1])
    assert value(before, "vigie_batch_requests", **labels) == 4
    assert value(before, "vigie_batch_requests_done", **labels) == 0
    assert (
        value(before, "vigie_verification_requests", source="api_particulier", state="pending") == 4
    )
    assert value(before, "vigie_verification_requests_due", source="api_particulier") == 4
    calls_before = (
        value(before, "vigie_upstream_calls_total", source="api_particulier", status="200") or 0
    )

    requests = list(VerificationRequest.objects.filter(batch=batch).order_by("pk"))
    for request in requests[:2]:
        assert run_until_done(request).state == RequestState.DONE
    texts.append(scrape(client))
    during = samples(texts[-1])
    assert value(during, "vigie_batch_requests", **labels) == 4
    assert value(during, "vigie_batch_requests_done", **labels) == 2
    assert value(during, "vigie_batch_last_progress_timestamp_seconds", **labels) > 0
    assert (
        value(during, "vigie_verification_requests", source="api_particulier", state="pending") == 2
    )
    assert (
        value(during, "vigie_upstream_calls_total", source="api_particulier", status="200")
        == calls_before + 2
    )
    assert (
        value(during, "vigie_upstream_call_duration_seconds_count", source="api_particulier") >= 2
    )
    assert (
        value(
            during,
            "vigie_limiter_usage_ratio",
            source="api_particulier",
            scope="token",
            window_seconds="1",
        )
        > 0
    )
    # The first scrape was counted, by its route's name.
    assert (
        value(during, "vigie_http_requests_total", route="metrics", method="GET", status="200") >= 1
    )

    for request in requests[2:]:
        run_until_done(request)
    texts.append(scrape(client))
    after = samples(texts[-1])
    batch.refresh_from_db()
    assert batch.status == "done"
    assert value(after, "vigie_batch_requests", **labels) is None  # only running batches

    everything = "\n".join(texts)
    for p in people:
        for text in (p.birth_name, *p.first_names, p.usage_name, p.ine, p.file_reference):
            if text and len(text) >= 4:
                assert text not in everything
        assert p.birth_date.isoformat() not in everything
    for claim in claims:
        assert claim.applicant.file_reference not in everything
    assert batch.label not in everything
    assert "candidats/" not in everything  # routes by name, never by path


def test_upstream_429s_are_counted(client, token, sandbox_settings):
    sandbox_settings.configure(error_rates={"429": 1.0})
    institution = InstitutionFactory()
    claim = claim_for(answering_people(1)[0], ClaimKind.SCOLARITE, institution)
    before = samples(scrape(client))
    limited = value(before, "vigie_upstream_rate_limited_total", source="api_particulier") or 0
    request = VerificationRequest.objects.create(
        institution=institution, claim=claim, source="api_particulier", trigger="manual"
    )
    assert verification_run(request_id=request.pk).status == "retry"
    after = samples(scrape(client))
    assert (
        value(after, "vigie_upstream_rate_limited_total", source="api_particulier") == limited + 1
    )
    assert value(after, "vigie_upstream_calls_total", source="api_particulier", status="429") >= 1
    assert value(after, "vigie_source_cooldown_seconds", source="api_particulier") > 0


def test_breakers_show_per_source(client, token):
    limiter = get_limiter()
    for n in range(limiter.config.failure_threshold):
        limiter.record_failure("cvec", error="timeout", subject=f"request:{n}")
    found = samples(scrape(client))
    assert value(found, "vigie_source_down", source="cvec") == 1
    assert value(found, "vigie_source_breaker_state", source="cvec", state="open") == 1
    assert value(found, "vigie_source_breaker_state", source="cvec", state="closed") == 0
    assert value(found, "vigie_source_breaker_failures", source="cvec") == 5
    assert value(found, "vigie_source_down", source="api_particulier") == 0


def test_the_dispatcher_tick_and_the_audit_chain_check(client, token):
    found = samples(scrape(client))
    assert value(found, "vigie_dispatcher_last_tick_timestamp_seconds") == 0
    assert value(found, "vigie_audit_chain_last_verified_timestamp_seconds") == 0
    assert value(found, "vigie_audit_chain_intact") == 0

    verification_dispatch_task.apply()
    events = _events(InstitutionFactory(), 3)
    audit_chain_check_task.apply()
    found = samples(scrape(client))
    assert value(found, "vigie_dispatcher_last_tick_timestamp_seconds") > 0
    verified = value(found, "vigie_audit_chain_last_verified_timestamp_seconds")
    assert verified > 0
    assert value(found, "vigie_audit_chain_intact") == 1

    _tamper('UPDATE "{table}" SET purpose = %s WHERE id = %s', ["autre", events[1].pk])
    audit_chain_check_task.apply()
    found = samples(scrape(client))
    assert value(found, "vigie_audit_chain_intact") == 0
    assert value(found, "vigie_audit_chain_last_verified_timestamp_seconds") >= verified
    assert AuditEvent.objects.count() == 3


def test_a_part_that_cannot_be_read_is_reported_and_the_rest_served(client, token, settings):
    settings.CELERY_BROKER_URL = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    response = client.get(reverse("metrics"), headers=AUTH)
    assert response.status_code == 200
    found = samples(response.content.decode())
    assert value(found, "vigie_metrics_part_up", part="broker") == 0
    assert value(found, "vigie_metrics_part_up", part="requests") == 1
    assert b"s3cret" not in response.content


def test_counters_of_other_processes_add_up(client, token):
    """A worker process counts its calls in its own files; the web scrape adds them."""
    before = samples(scrape(client))
    calls = value(before, "vigie_upstream_calls_total", source="covoiturage", status="503") or 0
    script = (
        "import django; django.setup()\n"
        "from verifications.providers.base import CallInfo\n"
        "from admissions.ops.metrics import observe_upstream_calls\n"
        "observe_upstream_calls('covoiturage', [CallInfo(http_status=503, duration_ms=40)] * 3)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
    after = samples(scrape(client))
    assert (
        value(after, "vigie_upstream_calls_total", source="covoiturage", status="503") == calls + 3
    )
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"]  # the subprocess wrote there, and has ended


@pytest.mark.redis
def test_broker_queue_lengths_with_redis(client, token, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the broker's queues are read with LLEN")
    from admissions.ops.health import broker_connection

    settings.CELERY_BROKER_URL = settings.REDIS_URL
    with broker_connection() as connection:
        for n in range(3):
            verification_run_task.apply_async(args=[10_000 + n], connection=connection)
        verification_dispatch_task.apply_async(connection=connection)
    found = samples(scrape(client))
    assert value(found, "vigie_broker_queue_length", queue="gov_api") == 3
    assert value(found, "vigie_broker_queue_length", queue="default") == 1
    assert value(found, "vigie_metrics_part_up", part="broker") == 1


def test_a_process_that_ends_keeps_its_counts_in_the_totals(client, token):
    """A process start folds the files of ended ones into an archive: no counter ever drops
    (Prometheus would read a drop as a reset and count the rest again), no file piles up."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    script = (
        "import os, django; django.setup()\n"
        "from verifications.providers.base import CallInfo\n"
        "from admissions.ops.metrics import observe_upstream_calls\n"
        "observe_upstream_calls('cvec', [CallInfo(http_status=502, duration_ms=40)] * 2)\n"
        "print(os.getpid())\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}

    def run() -> int:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        )
        return int(done.stdout.split()[-1])

    def calls() -> float:
        found = samples(scrape(client))
        return value(found, "vigie_upstream_calls_total", source="cvec", status="502") or 0

    before = calls()
    first = run()
    assert calls() == before + 2
    second = run()  # its start folds the first one's files
    assert not list(directory.glob(f"*_{first}.db"))
    assert (directory / "counter_archive.db").exists()
    assert (directory / "histogram_archive.db").exists()
    assert calls() == before + 4
    run()
    assert not list(directory.glob(f"*_{second}.db"))
    assert calls() == before + 6
    found = samples(scrape(client))
    assert value(found, "vigie_upstream_call_duration_seconds_count", source="cvec") >= 6
