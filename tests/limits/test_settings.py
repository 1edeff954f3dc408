"""Settings of the limiter, the backend choice, and what happens when Redis is gone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from admissions.settings import _rates_from_env
from tests.limits.conftest import make_config
from verifications.providers.limits import (
    LimiterUnavailable,
    LimitsConfig,
    get_limiter,
    reset_limiter_cache,
)
from verifications.providers.limits.local_backend import LocalLimiter
from verifications.providers.limits.redis_backend import RedisLimiter


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20/1s", [(20, 1.0)]),
        ("20/s", [(20, 1.0)]),
        ("1000/1m", [(1000, 60.0)]),
        ("100/5min", [(100, 300.0)]),
        ("5/500ms", [(5, 0.5)]),
        ("3/2.5", [(3, 2.5)]),
        ("20/1s, 600/1m", [(20, 1.0), (600, 60.0)]),
        ("off", []),
        ("", []),
    ],
)
def test_rate_limits_from_the_environment(value, expected):
    assert _rates_from_env("X", value) == expected


@pytest.mark.parametrize("value", ["20", "abc", "0/1s", "20/0s", "20/1d", "-1/1s"])
def test_a_malformed_rate_limit_is_refused_at_start_up(value):
    with pytest.raises(ImproperlyConfigured, match=r"expected e\.g\. 20/1s"):
        _rates_from_env("VERIFICATION_RATE_LIMIT_CVEC_SOURCE", value)


def test_defaults_are_the_documented_limits(settings):
    limits = settings.VERIFICATION_RATE_LIMITS
    assert limits["api_particulier"]["token"] == [(20, 1.0)]
    assert limits["api_particulier"]["ip"] == [(1000, 60.0)]
    assert limits["covoiturage"]["ip"] == [(100, 300.0)]
    # Undocumented: conservative, and limited for all machines together.
    for source in ("cvec", "certifinfo"):
        assert limits[source]["source"]
        assert all(count / window <= 5 for count, window in limits[source]["source"])
    config = LimitsConfig.from_settings(settings)
    assert config.margin == 0.03
    assert (config.failure_threshold, config.open_seconds) == (5, 30.0)
    assert (config.failure_window, config.failure_share) == (60.0, 0.5)
    assert config.set_aside_seconds == 86400.0
    assert config.egress_id == settings.VIGIE_EGRESS_ID != ""


def test_the_breaker_window_and_share_come_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "VERIFICATION_BREAKER_WINDOW_SECONDS": "120",
        "VERIFICATION_BREAKER_FAILURE_SHARE": "0.8",
        "VERIFICATION_BREAKER_SET_ASIDE_SECONDS": "3600",
    }
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.VERIFICATION_BREAKER_WINDOW_SECONDS, "
        "settings.VERIFICATION_BREAKER_FAILURE_SHARE, "
        "settings.VERIFICATION_BREAKER_SET_ASIDE_SECONDS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [120.0, 0.8, 3600.0]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("failure_share", 0.0),
        ("failure_share", 1.5),
        ("failure_window", 0.0),
        ("failure_threshold", 0),
        ("set_aside_seconds", -1.0),
    ],
)
def test_an_unusable_breaker_setting_is_refused(option, value):
    with pytest.raises(ValueError, match="breaker"):
        make_config({}, **{option: value})


def test_environment_variables_override_one_scope():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "VERIFICATION_RATE_LIMIT_API_PARTICULIER_TOKEN": "15/1s,500/1m",
        "VERIFICATION_RATE_LIMIT_COVOITURAGE_IP": "off",
        "VIGIE_EGRESS_ID": "worker-eu-1",
    }
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.VERIFICATION_RATE_LIMITS, settings.VIGIE_EGRESS_ID]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    limits, egress = json.loads(out.stdout)
    assert limits["api_particulier"]["token"] == [[15, 1.0], [500, 60.0]]
    assert limits["api_particulier"]["ip"] == [[1000, 60.0]]  # untouched
    assert limits["covoiturage"]["ip"] == []
    assert egress == "worker-eu-1"


def test_unknown_scopes_are_refused():
    with pytest.raises(ValueError, match="unknown rate limit scope"):
        make_config({"cvec": {"per_user": [(1, 1.0)]}})


@pytest.fixture
def fresh_limiter_cache():
    reset_limiter_cache()
    yield
    reset_limiter_cache()


@pytest.mark.usefixtures("fresh_limiter_cache")
def test_without_redis_the_limiter_is_a_sqlite_file_under_var(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.VAR_DIR = tmp_path
    limiter = get_limiter()
    assert isinstance(limiter, LocalLimiter)
    assert limiter.path == Path(tmp_path) / "limits.sqlite3"
    assert get_limiter() is limiter  # one per process
    assert limiter.acquire("cvec").granted
    reset_limiter_cache()
    assert get_limiter() is not limiter


@pytest.mark.redis
@pytest.mark.usefixtures("fresh_limiter_cache")
def test_with_redis_the_limiter_is_shared_through_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    limiter = get_limiter()
    assert isinstance(limiter, RedisLimiter)
    decision = limiter.acquire("cvec")
    assert decision.granted
    # Decided on the Redis server's clock.
    seconds, micros = limiter.client.time()
    assert 0 <= seconds + micros / 1e6 - decision.at < 1.0
    settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD = 1  # a setting change: a new limiter
    assert get_limiter() is not limiter
    assert get_limiter().config.failure_threshold == 1
    limiter = get_limiter()
    settings.VERIFICATION_BREAKER_FAILURE_SHARE = 0.9
    assert get_limiter() is not limiter
    assert get_limiter().config.failure_share == 0.9


def test_when_redis_is_unreachable_nothing_is_granted_and_nothing_raises(caplog):
    limiter = RedisLimiter(make_config({"cvec": {"source": [(5, 1.0)]}}), "redis://127.0.0.1:1/9")
    decision = limiter.acquire("cvec")
    assert (decision.granted, decision.reason) == (False, "unavailable:limiter")
    assert 0 < decision.wait <= 2
    limiter.observe("cvec", limit=10, remaining=1, reset_at=None)
    limiter.pause("cvec", 30)
    limiter.record_success("cvec")
    limiter.record_failure("cvec", error="timeout")
    assert "Rate limiter unavailable" in caplog.text
    with pytest.raises(LimiterUnavailable):
        limiter.breaker("cvec")
    with pytest.raises(LimiterUnavailable):
        limiter.breakers()
    with pytest.raises(LimiterUnavailable):
        limiter.reset()
    limiter.close()
