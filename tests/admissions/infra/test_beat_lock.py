"""The beat lock's three stores, each against the real thing (a SQLite file, Redis, PostgreSQL):
one holder at a time, renewed by its holder only, free once the holder stops renewing or goes.
(tests/workers/test_beat_lock.py runs two real beat processes on it.)"""

import time

import pytest
import redis
from celery.beat import PersistentScheduler
from django.db import connection

from admissions.infra.beat import (
    REDIS_KEY,
    FileBeatLock,
    LockUnavailable,
    PostgresBeatLock,
    RedisBeatLock,
    SingleBeatScheduler,
    beat_lock,
)


pytestmark = pytest.mark.django_db(transaction=True)


def _one_holder_at_a_time(a, b) -> None:
    assert a.take() == (True, "a")
    assert b.take() == (False, "a")  # and it says who holds it
    assert a.take() == (True, "a")  # renewed
    assert b.take() == (False, "a")
    a.release()
    assert b.take() == (True, "b")  # released on a clean stop: no wait for the TTL
    assert a.take() == (False, "b")
    b.release()


def test_file_lock(tmp_path):
    a = FileBeatLock(tmp_path / "beat-lock.sqlite3", "a", ttl=0.5)
    b = FileBeatLock(tmp_path / "beat-lock.sqlite3", "b", ttl=0.5)
    _one_holder_at_a_time(a, b)
    assert a.take() == (True, "a")
    time.sleep(0.7)  # a stopped renewing
    assert b.take() == (True, "b")
    assert a.take() == (False, "b")


@pytest.fixture
def redis_url(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs a Redis server (REDIS_URL)")
    return settings.REDIS_URL


def test_redis_lock(redis_url):
    a = RedisBeatLock(redis_url, "a", ttl=0.5)
    b = RedisBeatLock(redis_url, "b", ttl=0.5)
    _one_holder_at_a_time(a, b)
    assert a.take() == (True, "a")
    assert 0 < redis.Redis.from_url(redis_url).pttl(REDIS_KEY) <= 500
    time.sleep(0.7)
    assert b.take() == (True, "b")
    assert a.take() == (False, "b")


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.mark.usefixtures("postgresql")
def test_postgres_lock():
    a = PostgresBeatLock("default", "a", ttl=30)
    b = PostgresBeatLock("default", "b", ttl=30)
    try:
        _one_holder_at_a_time(a, b)
    finally:
        a.release()
        b.release()


@pytest.mark.usefixtures("postgresql")
def test_postgres_ends_the_session_of_a_holder_that_stops_renewing():
    a = PostgresBeatLock("default", "a", ttl=1)  # idle_session_timeout = 1 s
    b = PostgresBeatLock("default", "b", ttl=30)
    try:
        assert a.take() == (True, "a")
        assert b.take() == (False, "a")
        time.sleep(2.0)  # a hung: the server ends its session, and the lock goes with it
        assert b.take() == (True, "b")
        with pytest.raises(LockUnavailable, match="idle-session timeout"):
            a.take()  # a wakes up: its session is gone (so it stops sending)...
        assert a.take() == (False, "b")  # ...and a new one finds the lock taken
    finally:
        a.release()
        b.release()


def test_the_settings_choose_the_store(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.VIGIE_BEAT_LOCK = "file"
    assert isinstance(beat_lock("x"), FileBeatLock)
    settings.VIGIE_BEAT_LOCK = "off"
    assert beat_lock("x") is None
    settings.VIGIE_BEAT_LOCK = "auto"
    expected = (
        RedisBeatLock
        if settings.REDIS_URL
        else PostgresBeatLock
        if connection.vendor == "postgresql"
        else FileBeatLock
    )
    assert isinstance(beat_lock("x"), expected)
    settings.VIGIE_BEAT_LOCK = "zookeeper"
    with pytest.raises(ValueError, match="VIGIE_BEAT_LOCK"):
        beat_lock("x")


def test_the_celery_app_runs_the_single_beat_scheduler():
    from admissions.celery import app

    assert app.conf.beat_scheduler == "admissions.infra.beat:SingleBeatScheduler"
    assert issubclass(SingleBeatScheduler, PersistentScheduler)
