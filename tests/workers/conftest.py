import pytest

from tests.workers.cluster import (
    Cluster,
    RedisServer,
    embedded_broker_url,
    redis_server_available,
    worker_env,
)


@pytest.fixture
def redis_server(tmp_path):
    if not redis_server_available():
        pytest.skip("redis-server is not installed: the worker tests use the embedded broker")
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
    return {"VIGIE_TEST_BROKER_URL": embedded_broker_url(tmp_path / "var"), "server": None}


@pytest.fixture
def cluster(transactional_db, sandbox_settings, broker, tmp_path, settings):
    """Environment for workers and beat; start them with ``cluster.start_worker(...)``."""
    env = worker_env(
        var_dir=tmp_path / "var",
        broker_url=broker["VIGIE_TEST_BROKER_URL"],
        sandbox=sandbox_settings,
        redis_url=broker.get("REDIS_URL"),
    )
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
