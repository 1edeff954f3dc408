"""/healthz and /readyz: JSON answers for load balancers, without login, session, CSRF or
audit, and without a secret in their text."""

import json
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from admissions.models import AuditEvent
from admissions.ops import heartbeat
from bench.stack import free_port
from tests.factories import UserFactory
from verifications.providers.limits import get_limiter
from verifications.tasks import verification_dispatch_task


pytestmark = pytest.mark.django_db


def _checks(response) -> dict[str, dict]:
    return {check["name"]: check for check in response.json()["checks"]}


def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert len(response["X-Request-ID"]) == 32


def test_readyz_lists_every_check_and_is_ready_once_the_dispatcher_ticked(client):
    verification_dispatch_task.apply()  # as beat's tick, through Celery's task machinery
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready", body
    checks = _checks(response)
    assert {"database", "migrations", "cache", "broker", "dispatcher"} <= set(checks)
    assert {f"source:{s}" for s in get_limiter().sources()} <= set(checks)
    assert all(c["ok"] for c in checks.values())
    assert checks["database"]["required"]
    assert not checks["dispatcher"]["required"]
    assert checks["dispatcher"]["detail"].startswith("last dispatcher tick")


def test_a_dispatcher_that_stopped_ticking_makes_readyz_degraded_not_unready(client, settings):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert _checks(response)["dispatcher"] == {
        "name": "dispatcher",
        "ok": False,
        "required": False,
        "detail": "no dispatcher tick recorded yet (is beat running?)",
    }

    heartbeat.record(heartbeat.DISPATCH_TICK)
    assert _checks(client.get(reverse("readyz")))["dispatcher"]["ok"]
    settings.VIGIE_READYZ_DISPATCH_MAX_AGE = 0.0
    time.sleep(0.01)
    stale = client.get(reverse("readyz"))
    assert not _checks(stale)["dispatcher"]["ok"]
    assert "more than 0 s" in _checks(stale)["dispatcher"]["detail"]

    # Where the deployment wants it so, a stopped beat takes the process out of rotation.
    settings.VIGIE_READYZ_REQUIRED = ["database", "dispatcher"]
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"


def test_a_broker_down_is_503_without_its_address_or_password(client, settings):
    port = free_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2-broker-secret@127.0.0.1:{port}/3"
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    broker = _checks(response)["broker"]
    assert broker["ok"] is False
    assert broker["required"] is True
    assert broker["detail"].startswith("failed (")
    for secret in ("hunter2", str(port), "127.0.0.1", "redis://"):
        assert secret not in response.text


def test_an_open_breaker_shows_as_a_degraded_source(client):
    heartbeat.record(heartbeat.DISPATCH_TICK)
    limiter = get_limiter()
    for n in range(limiter.config.failure_threshold):
        limiter.record_failure("cvec", error="http_503", subject=f"request:{n}")
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    cvec = _checks(response)["source:cvec"]
    assert cvec["ok"] is False
    assert cvec["required"] is False
    assert cvec["detail"].startswith("breaker open since ")
    assert cvec["detail"].endswith("last error http_503")
    assert _checks(response)["source:api_particulier"]["ok"]


def test_probes_touch_no_session_no_csrf_and_no_audit(settings):
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = Session.objects.get()
    events = AuditEvent.objects.count()
    # Long after the session's last refresh: any page would push its expiry back (a write).
    settings.VIGIE_SESSION_REFRESH_SECONDS = 0
    for name in ("healthz", "readyz", "metrics"):
        response = client.get(reverse(name))
        assert response.status_code in (200, 404), name
        assert not response.cookies, name  # no session, CSRF or language cookie
        assert "Vary" not in response or "Cookie" not in response["Vary"], name
        # A write without a CSRF token is refused by the method, not by CSRF (403).
        assert client.post(reverse(name)).status_code == 405, name
    assert Session.objects.get().expire_date == session.expire_date
    assert Session.objects.get().session_data == session.session_data
    assert AuditEvent.objects.count() == events
    # The same client on a page: the session is refreshed (the check above is not vacuous).
    client.get(reverse("home"))
    assert Session.objects.get().expire_date > session.expire_date


def test_probes_are_not_redirected_to_https_nor_to_a_language(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("home")).status_code == 301  # what a page gets over HTTP
    response = client.get(reverse("healthz"), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Content-Language" not in response


def test_an_incoming_request_id_is_kept_when_it_looks_like_one(client):
    response = client.get(reverse("healthz"), headers={"X-Request-ID": "lb-4f2a9c1e-0001"})
    assert response["X-Request-ID"] == "lb-4f2a9c1e-0001"
    for bad in ("short", "x" * 65, "with space 12345", "a\u00e9b12345678"):
        response = client.get(reverse("healthz"), headers={"X-Request-ID": bad})
        assert response["X-Request-ID"] != bad
        assert len(response["X-Request-ID"]) == 32


@pytest.mark.redis
def test_with_redis_the_heartbeat_lives_in_the_shared_cache(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the heartbeat is in the file store without it")
    import redis

    verification_dispatch_task.apply()
    assert not (settings.VAR_DIR / "ops").exists()
    keys = redis.Redis.from_url(settings.REDIS_URL).keys("*vigie:ops:dispatch_tick")
    assert keys
    assert json.loads(client.get(reverse("readyz")).content)["status"] == "ready"
