"""Fixtures for the shared limiter: both backends, a fake clock, a private Redis database.

Redis tests use their own database (``VIGIE_TEST_LIMITS_REDIS_DB``, 9 by default) on the server
named by ``REDIS_URL``, and flush only that one. Without ``REDIS_URL`` they run against a
``redis-server`` the session starts for them (a free loopback port, no persistence, a temporary
directory), stopped at the end of the session; without the ``redis-server`` binary either, they
are skipped, and pytest prints the reason (``-ra``).
"""

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.limits.workers import build_limiter
from tests.workers.cluster import RedisServer, redis_server_available
from verifications.providers.limits.base import Limiter, LimitsConfig, parse_rate_table


REDIS_TEST_DB = int(os.environ.get("VIGIE_TEST_LIMITS_REDIS_DB", "9"))
NO_REDIS = (
    "REDIS_URL is not set and no redis-server binary is installed: the Redis backend of the "
    "limiter is not tested here (install redis-server, or set REDIS_URL as CI does)"
)

# Fake-clock tests start here: a realistic epoch value (2027), so that reset timestamps are
# read as timestamps and not as deltas.
T0 = 1_800_000_000.0

RateTable = Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]


def limits_redis_url(url: str) -> str:
    """``url`` (a Redis server's) pointed at the limiter tests' own database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{REDIS_TEST_DB}"))


@pytest.fixture(scope="session")
def limits_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis server the limiter tests use: ``REDIS_URL``'s when set, otherwise one of the
    session's own (``redis-server`` on a free port, no persistence), stopped at session end."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    if not redis_server_available():
        pytest.skip(NO_REDIS)
    server = RedisServer(tmp_path_factory.mktemp("limits-redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(limits_redis_server: str) -> Iterator[str]:
    """A Redis URL on the limiter tests' own database, flushed before and after the test."""
    url = limits_redis_url(limits_redis_server)
    client = redis.Redis.from_url(url)
    client.flushdb()  # only our own database
    yield url
    client.flushdb()
    client.close()


def make_config(rates: RateTable, **options: Any) -> LimitsConfig:
    defaults: dict[str, Any] = {
        "egress_id": "test-host",
        "margin": 0.03,
        "failure_threshold": 3,
        "open_seconds": 10.0,
        "max_open_seconds": 40.0,
        "probe_seconds": 5.0,
        "failure_window": 60.0,
        "failure_share": 0.5,
    }
    return LimitsConfig(rates=parse_rate_table(rates), **(defaults | options))


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend name, target): every limiter built on it shares the same state."""
    if request.param == "local":
        return "local", str(tmp_path / "limits.sqlite3")
    return "redis", request.getfixturevalue("redis_url")


@pytest.fixture
def make_limiter(backend: tuple[str, str]) -> Iterator[Callable[..., Limiter]]:
    """``make_limiter(rates, **config)``: a limiter on the test's backend."""
    made: list[Limiter] = []

    def make(rates: RateTable, **options: Any) -> Limiter:
        limiter = build_limiter(backend[0], backend[1], make_config(rates, **options))
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.close()


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
