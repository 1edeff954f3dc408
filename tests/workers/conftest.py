import os

import pytest

from tests.workers.cluster import Cluster, RedisServer, database_url, redis_server_available


@pytest.fixture
def redis_server(tmp_path):
    if not redis_server_available():
        pytest.skip("redis-server is not installed: the worker tests use the filesystem transport")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(request, tmp_path):
    """The worker processes' broker and limiter store: a Redis of their own when possible."""
    if redis_server_available():
        server = request.getfixturevalue("redis_server")
        return {"REDIS_URL": server.url, "VIGIE_TEST_BROKER_URL": server.url, "server": server}
    return {"VIGIE_TEST_BROKER_URL": "filesystem://", "server": None}


@pytest.fixture
def cluster(transactional_db, sandbox_settings, broker, tmp_path, settings):
    """Environment for workers and beat; start them with ``cluster.start_worker(...)``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_URL", "CELERY_", "VIGIE_TEST_BROKER_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "VIGIE_VAR_DIR": str(tmp_path / "var"),
            "VIGIE_TEST_BROKER_URL": broker["VIGIE_TEST_BROKER_URL"],
            "API_PARTICULIER_BASE_URL": sandbox_settings.particulier_url,
            "CVEC_BASE_URL": sandbox_settings.cvec_url,
            "CERTIFINFO_BASE_URL": sandbox_settings.certifinfo_url,
            "COVOITURAGE_BASE_URL": sandbox_settings.covoiturage_url,
            # Short leases and stale limits, so that recovery takes seconds in a test.
            "VERIFICATION_LEASE_SECONDS": "5",
            "VERIFICATION_STALE_ENQUEUE_SECONDS": "6",
            "VERIFICATION_RETRY_BASE_SECONDS": "0.5",
            "VERIFICATION_RETRY_MAX_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if "REDIS_URL" in broker:
        env["REDIS_URL"] = broker["REDIS_URL"]
    (tmp_path / "var").mkdir()
    running = Cluster(directory=tmp_path, env=env)
    yield running
    running.stop()


@pytest.fixture
def figures(request, capsys):
    """Print a test's measurements in the pytest output, even when output is captured."""

    def write(text: str) -> None:
        with capsys.disabled():
            print(f"\n[{request.node.name}] {text}")  # noqa: T201 - the figures are the point

    return write
