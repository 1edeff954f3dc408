import os

import pytest
from django.core.signals import setting_changed
from django.dispatch import receiver


pytest_plugins = ["tests.fixtures.sandbox"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if os.environ.get("REDIS_URL"):
        redis, limiter = "yes", "REDIS_URL"
    else:
        import shutil

        redis = "no"
        installed = shutil.which("redis-server")
        limiter = "own redis-server" if installed else "skipped (no redis-server)"
    return [
        f"vigie: database={db} redis={redis} "
        f"broker={settings.CELERY_BROKER_URL.split('://', 1)[0]} redis limiter tests={limiter}"
    ]


@receiver(setting_changed)
def _celery_follows_its_broker_setting(*, setting: str, **kwargs) -> None:
    """A test that points ``CELERY_BROKER_URL`` elsewhere (a cluster's Redis, a probe of /readyz)
    and back leaves no connection to that broker in the app's pools.

    Celery reads the settings live, but keeps the connection and producer pools it opened: after
    such a test, every enqueue of the session would go to a broker that has gone.
    """
    if not setting.startswith("CELERY_BROKER"):
        return
    from admissions.celery import app
    from tests.celery_pools import reset_broker_connections

    reset_broker_connections(app)


@pytest.fixture(autouse=True)
def _isolated_caches(settings):
    """Each test starts with empty caches."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _streamed_responses_closed(monkeypatch):
    """File downloads the test client returns are closed when the test ends, as a server closes
    a response once it is sent: their open files would otherwise outlive the test. Closing
    runs the ``request_finished`` handlers without Django's ``close_old_connections``, as the
    test client itself does, so that the test's database connection stays open."""
    from django.core.signals import request_finished
    from django.db import close_old_connections
    from django.test import Client

    streamed = []
    request = Client.request

    def keeping_track(self, **kwargs):
        response = request(self, **kwargs)
        if getattr(response, "streaming", False):
            streamed.append(response)
        return response

    monkeypatch.setattr(Client, "request", keeping_track)
    yield
    request_finished.disconnect(close_old_connections)
    try:
        for response in streamed:
            response.close()
    finally:
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _french_by_default():
    """Each test starts in French, whatever language an earlier request activated."""
    from django.utils import translation

    with translation.override("fr"):
        yield


@pytest.fixture(autouse=True)
def _isolated_limiter(settings, tmp_path):
    """Each test starts with empty rate windows, closed breakers and no cooldown: a fresh
    local limiter file, or (with REDIS_URL) the tests' own Redis database flushed."""
    from verifications.providers.limits import reset_limiter_cache

    settings.VAR_DIR = tmp_path
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        client.flushdb()
        client.close()
    yield
    reset_limiter_cache()


# --- People of an institution, and a client logged in as them -------------------------------
# (A test module that needs them in a given institution defines its own.)


@pytest.fixture
def clerk():
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def supervisor():
    from tests.factories import UserFactory

    return UserFactory(supervisor=True)


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client
