import datetime as dt
import email.utils
import logging
import types

import pytest
import requests
from urllib3.util.retry import Retry

from verifications.providers import coerce, http
from verifications.providers.base import (
    CallInfo,
    ProviderConfig,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)


BASE = "https://api.test"


@pytest.fixture
def config():
    return ProviderConfig(base_url=BASE, timeout=5.0)


def call(session, config, **kwargs):
    kwargs.setdefault("params", [("q", "secret")])
    return http.get(session, config, "/thing/abc", source="test", route="/thing/{id}", **kwargs)


def test_session_never_retries_by_itself(session):
    for prefix in ("https://", "http://"):
        retries = session.get_adapter(prefix + "x.test").max_retries
        assert isinstance(retries, Retry)
        assert retries.total == 0
        assert retries.read is False
        assert not retries.redirect


def test_session_sets_user_agent_and_accept():
    session = http.build_session(user_agent="Test/1")
    assert session.headers["User-Agent"] == "Test/1"
    assert session.headers["Accept"] == "application/json"


def test_session_puts_a_timeout_on_calls_that_forget_it(mocked, session):
    mocked.get(f"{BASE}/raw", body="ok")

    session.get(f"{BASE}/raw")

    assert mocked.calls[0].request.req_kwargs["timeout"] == (3.05, 10.0)


def test_get_uses_the_config_timeouts(mocked, session):
    mocked.get(f"{BASE}/thing/abc", json={})
    config = ProviderConfig(base_url=BASE, timeout=2.0, connect_timeout=3.05)

    call(session, config)

    # The connection timeout never exceeds the read timeout.
    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.0, 2.0)


def test_get_captures_request_id_and_rate_limits(mocked, session, config):
    mocked.get(
        f"{BASE}/thing/abc",
        json={"a": 1, "b": {"c": 2}},
        headers={
            "X-Request-ID": "x" * 300,
            "RateLimit-Limit": "20",
            "RateLimit-Remaining": "3",
            "RateLimit-Reset": "1900000000",
        },
    )

    answer = call(session, config)

    assert answer.status == 200
    assert answer.payload == {"a": 1, "b": {"c": 2}}
    assert answer.is_json
    assert answer.call.upstream_request_id == "x" * 128
    assert answer.call.ratelimit_limit == 20
    assert answer.call.ratelimit_remaining == 3
    assert answer.call.ratelimit_reset == 1_900_000_000
    assert answer.call.redacted == {
        "method": "GET",
        "route": "/thing/{id}",
        "params": ["q"],
        "status": 200,
        "keys": ["a", "b"],
    }


def test_empty_and_non_json_bodies(mocked, session, config):
    mocked.get(f"{BASE}/thing/abc", body="")
    mocked.get(f"{BASE}/thing/abc", body="<html/>")

    empty = call(session, config)
    html = call(session, config)

    assert (empty.payload, empty.is_json) == (None, False)
    assert "body" not in empty.call.redacted
    assert (html.payload, html.is_json) == (None, False)
    assert html.call.redacted["body"] == "not_json"


@pytest.mark.parametrize("base_url", ["", "  "])
def test_no_base_url_is_not_configured(mocked, session, base_url):
    with pytest.raises(ProviderNotConfigured) as caught:
        call(session, ProviderConfig(base_url=base_url))
    assert caught.value.setting == "base_url"


@pytest.mark.parametrize("base_url", ["api.test", "ftp://api.test", "http://"])
def test_unusable_base_url_is_not_configured(mocked, session, base_url):
    with pytest.raises(ProviderNotConfigured) as caught:
        call(session, ProviderConfig(base_url=base_url))
    assert caught.value.setting == "base_url"
    assert caught.value.call.redacted["error"] == "invalid_base_url"
    assert caught.value.__suppress_context__ is True


def test_body_larger_than_the_limit_is_not_read(mocked, session):
    mocked.get(f"{BASE}/thing/abc", body="x" * 2000)

    with pytest.raises(ProviderUnavailable) as caught:
        call(session, ProviderConfig(base_url=BASE, max_response_bytes=1000))

    assert caught.value.call.redacted["error"] == "response_too_large"
    assert caught.value.call.http_status == 200


def test_whole_exchange_has_a_deadline(mocked, session, config, monkeypatch):
    # A server that trickles its body never stops a read timeout; the deadline does.
    clock = iter([0.0, 100.0, 100.0, 100.0])
    # Replace the module's `time`, not the global time module others use in the meantime.
    monkeypatch.setattr(http, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    mocked.get(f"{BASE}/thing/abc", body="x" * 10)

    with pytest.raises(ProviderUnavailable) as caught:
        call(session, config)

    assert caught.value.call.redacted["error"] == "timeout"


def test_logs_name_the_route_never_the_url(mocked, session, config, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.get(f"{BASE}/thing/abc", json={})

    call(session, config)

    assert "/thing/{id}" in caplog.text
    assert "abc" not in caplog.text
    assert "secret" not in caplog.text


def test_urllib3_request_lines_are_scrubbed(session):
    # build_session (fixture) installed the filter; urllib3 logs "GET /path?query HTTP/1.1".
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        (
            "https",
            "api.test",
            443,
            "GET",
            "/v4/x?nomNaissance=MARTIN&prenoms[]=EMMA",
            "HTTP/1.1",
            200,
            10,
        ),
        None,
    )
    for log_filter in logging.getLogger("urllib3.connectionpool").filters:
        log_filter.filter(record)

    assert "MARTIN" not in record.getMessage()
    # The whole request target goes: attestation numbers travel in paths.
    assert '"GET /<redacted> HTTP/1.1" 200' in record.getMessage()


def test_urllib3_log_redaction_scrubs_attestation_numbers_in_paths():
    http.build_session()
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        ("https", "api.test", 443, "GET", "/api/attestation/VER1AAAAAA00SB", "HTTP/1.1", 200, 9),
        None,
    )
    for log_filter in logging.getLogger("urllib3.connectionpool").filters:
        log_filter.filter(record)
    assert "VER1AAAAAA00SB" not in record.getMessage()


def test_runserver_request_lines_lose_their_query_string():
    from admissions.infra.log_filters import RedactQueryStrings

    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /candidats/?q=MARTIN+EMMA HTTP/1.1", "200", "1234"),
        None,
    )
    RedactQueryStrings().filter(record)
    assert record.getMessage() == '"GET /candidats/?<redacted> HTTP/1.1" 200 1234'
    assert any(
        isinstance(f, RedactQueryStrings) for f in logging.getLogger("django.server").filters
    )


def test_log_redaction_is_installed_once():
    http.build_session()
    http.build_session()
    filters = logging.getLogger("urllib3.connectionpool").filters
    assert sum(isinstance(f, http.RedactQueryStrings) for f in filters) == 1


# --- Rate-limit and Retry-After headers -------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (None, None, None)),
        (
            {"RateLimit-Limit": "20", "RateLimit-Remaining": "0", "RateLimit-Reset": "1800000030"},
            (20, 0, NOW + 30),
        ),
        # Seconds from now (IETF draft 6, express-rate-limit).
        ({"RateLimit-Limit": "100, 100;w=300", "RateLimit-Reset": "42"}, (100, None, NOW + 42)),
        # Milliseconds since the epoch.
        ({"RateLimit-Reset": "1800000005000"}, (None, None, NOW + 5)),
        # Legacy X- headers.
        ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "7"}, (100, 7, None)),
        # Combined header (draft 7) and draft 8's r/t.
        ({"RateLimit": "limit=100, remaining=25, reset=5"}, (100, 25, NOW + 5)),
        ({"RateLimit": '"default";r=3;t=9'}, (None, 3, NOW + 9)),
        ({"RateLimit-Remaining": "garbage"}, (None, None, None)),
    ],
)
def test_parse_ratelimit(headers, expected):
    assert (
        http.parse_ratelimit(requests.structures.CaseInsensitiveDict(headers), now=NOW) == expected
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("1.5", 1.5),
        ("soon", None),
        (email.utils.format_datetime(dt.datetime.fromtimestamp(NOW + 90, tz=dt.UTC)), 90.0),
        (email.utils.format_datetime(dt.datetime.fromtimestamp(NOW - 90, tz=dt.UTC)), 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    assert http.parse_retry_after(value, now=NOW) == expected


# --- The shared status rule -------------------------------------------------------------------


def answer(status, headers=None):
    return http.Answer(
        status=status,
        headers=requests.structures.CaseInsensitiveDict(headers or {}),
        payload=None,
        is_json=False,
        call=CallInfo(http_status=status, redacted={"status": status}),
    )


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (301, ProviderRejected),
        (400, ProviderRejected),
        (401, ProviderRejected),
        (403, ProviderRejected),
        (418, ProviderRejected),
        (422, ProviderRejected),
        (429, ProviderRateLimited),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (504, ProviderUnavailable),
        (101, ProviderUnavailable),
    ],
)
def test_raise_for_status(status, exception):
    with pytest.raises(exception) as caught:
        http.raise_for_status(answer(status), source="test", code="E1")
    assert caught.value.call.http_status == status


def test_raise_for_status_lets_2xx_through():
    assert http.raise_for_status(answer(204), source="test") is None


def test_rejected_without_a_code_names_the_status():
    with pytest.raises(ProviderRejected) as caught:
        http.raise_for_status(answer(403), source="test")
    assert caught.value.code == "http_403"


def test_error_message_is_safe_to_log():
    error = ProviderUnavailable(
        "timeout", source="cvec", call=CallInfo(http_status=None, provider_error_code="")
    )
    assert str(error) == "cvec: timeout (http -, code -)"
    assert isinstance(error, ProviderError)
    assert error.calls == (error.call,)


# --- Tolerant coercion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" x ", "x"),
        ("", None),
        (75, "75"),
        (75.0, "75"),
        (True, None),
        (None, None),
        ({}, None),
        (float("nan"), None),
    ],
)
def test_as_str(value, expected):
    assert coerce.as_str(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (0, False),
        (1, True),
        ("Oui", True),
        ("false", False),
        ("maybe", None),
        (2, None),
    ],
)
def test_as_bool(value, expected):
    assert coerce.as_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2005-02-01", dt.date(2005, 2, 1)),
        ("01/02/2005", dt.date(2005, 2, 1)),
        ("2005-02-01T00:00:00", dt.date(2005, 2, 1)),
        ("2005-02-01T00:00:00+01:00", dt.date(2005, 2, 1)),
        ("31/02/2005", None),
        ("", None),
        (None, None),
    ],
)
def test_as_date(value, expected):
    assert coerce.as_date(value) == expected


def test_as_datetime_reads_the_covoiturage_offsets():
    assert coerce.as_datetime("2020-01-01T00:00:00+0100") == dt.datetime(
        2019, 12, 31, 23, tzinfo=dt.UTC
    )
    assert coerce.as_datetime("2021-03-14T10:12:02.119Z").tzinfo is not None
    assert coerce.as_datetime("2021-03-14T10:12:02").tzinfo == dt.UTC
    assert coerce.as_datetime("yesterday") is None
