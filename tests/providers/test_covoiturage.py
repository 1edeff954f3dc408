import copy
import datetime as dt

import pytest

from tests.providers import payloads
from tests.providers.conftest import COVOITURAGE
from verifications.enums import Source
from verifications.providers import covoiturage
from verifications.providers.base import (
    INVALID_QUERY,
    ROUTE_NOT_FOUND,
    CovoiturageQuery,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)


UUID = "9415300a-7a51-4296-96d1-68636e46485d"
URL = f"{COVOITURAGE}/certificates/{UUID}"


@pytest.fixture
def query():
    return CovoiturageQuery(uuid=UUID.upper())


def expired():
    certificate = copy.deepcopy(payloads.COVOITURAGE_CERTIFICATE)
    certificate["type"] = "expired"
    return certificate


@pytest.mark.parametrize(
    ("body", "kind", "wire"),
    [
        (payloads.COVOITURAGE_CERTIFICATE, "ok", "bare"),
        (payloads.covoiturage_wrapped(payloads.COVOITURAGE_CERTIFICATE), "ok", "jsonrpc"),
        (expired(), "expired", "bare"),
        (payloads.covoiturage_wrapped(expired()), "expired", "jsonrpc"),
    ],
)
def test_certificate_bare_or_wrapped(mocked, session, query, covoiturage_config, body, kind, wire):
    mocked.get(URL, json=body)

    result = covoiturage.verify(session, query, covoiturage_config)

    assert result.source == Source.COVOITURAGE
    assert result.found is True
    record = result.data
    assert record.type == kind
    assert record.uuid == UUID
    assert record.start_at == dt.datetime(2019, 12, 31, 23, tzinfo=dt.UTC)
    assert record.end_at == dt.datetime(2020, 12, 30, 23, tzinfo=dt.UTC)
    assert record.created_at == dt.datetime(2021, 3, 14, 10, 12, 2, 119000, tzinfo=dt.UTC)
    assert record.operator_name == "Opérateur"
    assert result.call.redacted["format"] == wire


def test_request(mocked, session, query, covoiturage_config):
    mocked.get(URL, json=payloads.COVOITURAGE_CERTIFICATE)

    covoiturage.verify(session, query, covoiturage_config)

    request = mocked.calls[0].request
    assert request.url == URL  # lower-cased UUID, version from the base URL
    assert "Authorization" not in request.headers


def test_token_is_sent_when_configured(mocked, session, query):
    mocked.get(URL, json=payloads.COVOITURAGE_CERTIFICATE)

    covoiturage.verify(session, query, ProviderConfig(base_url=COVOITURAGE, token="app"))

    assert mocked.calls[0].request.headers["Authorization"] == "Bearer app"


@pytest.mark.parametrize("uuid", ["", "not-a-uuid", UUID + "0", "9415300a7a51429696d168636e46485d"])
def test_malformed_uuid_is_never_sent(mocked, session, covoiturage_config, uuid):
    with pytest.raises(ProviderRejected) as caught:
        covoiturage.verify(session, CovoiturageQuery(uuid=uuid), covoiturage_config)
    assert caught.value.code == INVALID_QUERY


def test_switched_off(mocked, session, query):
    with pytest.raises(ProviderNotConfigured):
        covoiturage.verify(session, query, ProviderConfig(base_url=""))


@pytest.mark.parametrize(
    ("body", "code"),
    [(payloads.COVOITURAGE_404_RPC, "-32504"), (payloads.COVOITURAGE_404_SPEC, "404")],
)
def test_404_is_not_found(mocked, session, query, covoiturage_config, body, code):
    mocked.get(URL, status=404, json=body)

    result = covoiturage.verify(session, query, covoiturage_config)

    assert result.found is False
    assert result.data is None
    assert result.call.provider_error_code == code


def test_404_empty_body_is_a_wrong_version_prefix(mocked, session, query, covoiturage_config):
    mocked.get(URL, status=404, body="")

    with pytest.raises(ProviderRejected) as caught:
        covoiturage.verify(session, query, covoiturage_config)

    assert caught.value.code == ROUTE_NOT_FOUND


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, payloads.COVOITURAGE_400_RPC, "-32602"),
        (401, payloads.COVOITURAGE_401, "-32501"),
        (403, payloads.COVOITURAGE_403, "-32503"),
    ],
)
def test_rejected(mocked, session, query, covoiturage_config, status, body, code):
    mocked.get(URL, status=status, json=body)

    with pytest.raises(ProviderRejected) as caught:
        covoiturage.verify(session, query, covoiturage_config)

    assert caught.value.code == code
    assert caught.value.call.provider_error_code == code


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"Retry-After": "180"}, 180), ({"RateLimit-Reset": "45"}, 45), ({}, 60)],
)
def test_429_is_rate_limited(
    mocked, session, query, covoiturage_config, headers, wait, monkeypatch
):
    monkeypatch.setattr("verifications.providers.http.time.time", lambda: 1_800_000_000.0)
    mocked.get(URL, status=429, json=payloads.COVOITURAGE_429, headers=headers)

    with pytest.raises(ProviderRateLimited) as caught:
        covoiturage.verify(session, query, covoiturage_config)

    assert caught.value.retry_after == wait
    assert caught.value.conflict is False
    assert caught.value.call.provider_error_code == "429"


@pytest.mark.parametrize(
    ("status", "body"), [(503, payloads.COVOITURAGE_503), (500, None), (502, None)]
)
def test_maintenance_and_5xx_are_unavailable(
    mocked, session, query, covoiturage_config, status, body
):
    mocked.get(URL, status=status, json=body)

    with pytest.raises(ProviderUnavailable):
        covoiturage.verify(session, query, covoiturage_config)


@pytest.mark.parametrize(
    ("body", "exception"),
    [
        (payloads.COVOITURAGE_404_RPC, None),
        (payloads.COVOITURAGE_400_RPC, ProviderRejected),
        (payloads.COVOITURAGE_403, ProviderRejected),
        (
            {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "Server"}},
            ProviderUnavailable,
        ),
    ],
)
def test_jsonrpc_error_inside_a_200(mocked, session, query, covoiturage_config, body, exception):
    mocked.get(URL, json=body)

    if exception is None:
        assert covoiturage.verify(session, query, covoiturage_config).found is False
    else:
        with pytest.raises(exception):
            covoiturage.verify(session, query, covoiturage_config)


@pytest.mark.parametrize("body", [{"jsonrpc": "2.0", "id": 1, "result": {"meta": None}}, {"x": 1}])
def test_200_without_a_certificate_is_unavailable(mocked, session, query, covoiturage_config, body):
    mocked.get(URL, json=body)

    with pytest.raises(ProviderUnavailable):
        covoiturage.verify(session, query, covoiturage_config)
