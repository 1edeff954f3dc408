"""Covoiturage certificates over HTTP (docs/api/covoiturage.md): JSON-RPC shapes, errors, limit."""

import uuid

import pytest
import requests

from sandbox.population import CovoiturageOutcome
from tests.sandbox import reference
from tests.sandbox.support import TIMEOUT, first


DATA_KEYS = {
    "type",
    "uuid",
    "tz",
    "start_at",
    "end_at",
    "created_at",
    "identity",
    "operator",
    "positions",
    "driver",
    "passenger",
}


def get(sandbox, value: str, version: str = "v3.2", **kwargs) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/covoiturage/{version}/certificates/{value}", timeout=TIMEOUT, **kwargs
    )


@pytest.mark.parametrize("outcome", [CovoiturageOutcome.OK, CovoiturageOutcome.EXPIRED])
def test_population_attestation_is_wrapped_in_json_rpc(sandbox, outcome):
    p = first(lambda p: p.covoiturage == outcome)

    response = get(sandbox, p.covoiturage_uuid)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"jsonrpc", "id", "result"}
    assert (body["jsonrpc"], body["id"], body["result"]["meta"]) == ("2.0", 1, None)
    data = body["result"]["data"]
    assert set(data) == DATA_KEYS
    assert data["type"] == outcome.value
    assert data["uuid"] == p.covoiturage_uuid
    assert set(data["driver"]["total"]) == {
        "trips",
        "week_trips",
        "weekend_trips",
        "distance",
        "amount",
    }
    assert set(data["operator"]) == {"_id", "uuid", "name"}


def test_unknown_attestation_is_a_json_rpc_404(sandbox):
    unknown = first(lambda p: p.covoiturage == CovoiturageOutcome.UNKNOWN).covoiturage_uuid
    random_uuid = str(uuid.uuid4())

    for value in (unknown, random_uuid):
        response = get(sandbox, value)
        assert response.status_code == 404
        assert response.json() == reference.covoiturage_not_found(value)


@pytest.mark.parametrize("value", ["not-a-uuid", "9415300a7a51429696d168636e46485d", "1234"])
def test_malformed_uuid_is_a_json_rpc_400(sandbox, value):
    response = get(sandbox, value)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (-32602, "Invalid params")


@pytest.mark.parametrize("version", ["v3", "v3.2", "v3.3"])
def test_supported_versions(sandbox, version):
    assert get(sandbox, "9415300a-7a51-4296-96d1-68636e46485d", version=version).status_code == 200


@pytest.mark.parametrize("version", ["v2", "v3.1", "v4"])
def test_unsupported_version_is_404_with_an_empty_body(sandbox, version):
    response = get(sandbox, "9415300a-7a51-4296-96d1-68636e46485d", version=version)

    assert response.status_code == 404
    assert response.content == b""


def test_scenario_cases_include_the_bare_and_expired_forms(sandbox):
    bare = get(sandbox, "1b37ff76-dac6-44b0-ba78-9015a8a198fc").json()
    expired = get(sandbox, "5c8f6a0e-2d7b-4e3a-9f1c-8b6d4a2e0f13").json()

    assert set(bare) == DATA_KEYS
    assert expired["result"]["data"]["type"] == "expired"


def test_limit_is_100_per_5_minutes_with_standard_headers(sandbox):
    value = "9415300a-7a51-4296-96d1-68636e46485d"
    first_answer = get(sandbox, value)
    assert first_answer.headers["RateLimit-Limit"] == "100"
    assert first_answer.headers["RateLimit-Remaining"] == "99"
    assert 0 <= int(first_answer.headers["RateLimit-Reset"]) <= 300

    sandbox.configure(covoiturage_limit=3, limit_algorithm="sliding")
    statuses = [get(sandbox, value).status_code for _ in range(4)]
    refused = get(sandbox, value)

    assert statuses == [200, 200, 200, 429]
    assert refused.json() == reference.COVOITURAGE_TOO_MANY
    assert int(refused.headers["Retry-After"]) >= 1


def test_route_is_public_unless_tokens_are_configured(sandbox):
    value = "9415300a-7a51-4296-96d1-68636e46485d"
    assert get(sandbox, value, headers={"Authorization": "Bearer anything"}).status_code == 200

    sandbox.configure(covoiturage_tokens=["operator-token"])

    assert get(sandbox, value).status_code == 200  # no header: public
    refused = get(sandbox, value, headers={"Authorization": "Bearer anything"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == -32501
    allowed = get(sandbox, value, headers={"Authorization": "Bearer operator-token"})
    assert allowed.status_code == 200


def test_maintenance_body(sandbox):
    sandbox.configure(apis={"covoiturage": {"outage": True}})

    response = get(sandbox, "9415300a-7a51-4296-96d1-68636e46485d")

    assert (response.status_code, response.json()) == (503, reference.COVOITURAGE_MAINTENANCE)
