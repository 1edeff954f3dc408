import copy
import dataclasses
import datetime as dt
import json
import urllib.parse

import pytest
import requests

from tests.providers import payloads
from tests.providers.conftest import PARTICULIER, SIRET, TOKEN
from verifications.enums import Source
from verifications.providers import scolarite
from verifications.providers.base import (
    INVALID_QUERY,
    ROUTE_NOT_FOUND,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    ScolariteQuery,
)


V4_URL = f"{PARTICULIER}/v4/men/scolarites/identite"
V3_URL = f"{PARTICULIER}/v3/men/scolarites/identite"


@pytest.fixture
def query(emma):
    return ScolariteQuery(identity=emma, uai="0132733A", school_year=2025, recipient=SIRET)


def sent_params(call) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(call.request.url).query)


# --- Request building -------------------------------------------------------------------------


def test_request_is_the_documented_v4_call(mocked, session, query, particulier_config):
    mocked.get(V4_URL, json=payloads.SCOLARITE_V4_200)

    scolarite.verify(session, query, particulier_config)

    request = mocked.calls[0].request
    # The verbatim staging call of docs/api/api-particulier.md §Parameters, parameter for parameter.
    assert sent_params(mocked.calls[0]) == [
        ("recipient", "13002526500013"),
        ("nomNaissance", "MARTIN"),
        ("prenoms[]", "EMMA"),
        ("sexeEtatCivil", "F"),
        ("anneeDateNaissance", "2012"),
        ("moisDateNaissance", "8"),
        ("jourDateNaissance", "15"),
        ("codeEtablissement", "0132733A"),
        ("anneeScolaire", "2025"),
    ]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("Vigie/")
    assert request.req_kwargs["timeout"] == (3.05, 5.0)


def test_each_given_name_is_its_own_item_first_name_first(
    mocked, session, query, particulier_config
):
    identity = dataclasses.replace(
        query.identity, first_names=("Lily-Rose", "Clara", "Marie Davida")
    )
    mocked.get(V4_URL, json=payloads.SCOLARITE_V4_200)

    scolarite.verify(session, dataclasses.replace(query, identity=identity), particulier_config)

    prenoms = [value for key, value in sent_params(mocked.calls[0]) if key == "prenoms[]"]
    assert prenoms == ["Lily-Rose", "Clara", "Marie Davida"]
    assert "prenoms%5B%5D=Lily-Rose&prenoms%5B%5D=Clara" in mocked.calls[0].request.url


def test_no_more_than_three_given_names_are_sent(mocked, session, query, particulier_config):
    identity = dataclasses.replace(query.identity, first_names=("A", "B", "C", "D"))
    mocked.get(V4_URL, json=payloads.SCOLARITE_V4_200)

    scolarite.verify(session, dataclasses.replace(query, identity=identity), particulier_config)

    prenoms = [value for key, value in sent_params(mocked.calls[0]) if key == "prenoms[]"]
    assert prenoms == ["A", "B", "C"]


def test_v3_by_setting(mocked, session, query, particulier_config):
    mocked.get(V3_URL, json=payloads.SCOLARITE_V3_200)

    result = scolarite.verify(session, query, dataclasses.replace(particulier_config, version="v3"))

    assert result.found
    assert result.data.uai == "0210015C"


def test_base_url_trailing_slash_is_ignored(mocked, session, query, particulier_config):
    mocked.get(V4_URL, json=payloads.SCOLARITE_V4_200)

    result = scolarite.verify(
        session, query, dataclasses.replace(particulier_config, base_url=PARTICULIER + "/")
    )

    assert result.found


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"birth_name": "  "}, "birth_name"),
        ({"first_names": ()}, "first_names"),
        ({"first_names": ("Lily-Rose, Clara",)}, "first_names"),
        ({"sex": "X"}, "sex"),
        ({"birth_date": None}, "birth_date"),
    ],
)
def test_invalid_identity_is_never_sent(
    mocked, session, query, particulier_config, change, problem
):
    identity = dataclasses.replace(query.identity, **change)

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, dataclasses.replace(query, identity=identity), particulier_config)

    assert caught.value.code == INVALID_QUERY
    assert problem in str(caught.value)
    assert caught.value.call.http_status is None
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(("change"), [{"uai": "0132733"}, {"uai": "A132733A"}, {"school_year": 25}])
def test_invalid_claim_is_never_sent(mocked, session, query, particulier_config, change):
    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, dataclasses.replace(query, **change), particulier_config)

    assert caught.value.code == INVALID_QUERY
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("config_change", "query_change", "setting"),
    [
        ({"base_url": ""}, {}, "base_url"),
        ({"base_url": "   "}, {}, "base_url"),
        ({"token": ""}, {}, "token"),
        ({"version": "v2"}, {}, "version"),
        ({}, {"recipient": ""}, "recipient"),
        ({}, {"recipient": "1300252650001"}, "recipient"),
    ],
)
def test_not_configured_sends_nothing(
    mocked, session, query, particulier_config, config_change, query_change, setting
):
    config = dataclasses.replace(particulier_config, **config_change)

    with pytest.raises(ProviderNotConfigured) as caught:
        scolarite.verify(session, dataclasses.replace(query, **query_change), config)

    assert caught.value.setting == setting
    assert len(mocked.calls) == 0


# --- 200 answers ------------------------------------------------------------------------------


def test_v4_answer_is_mapped(mocked, session, query, particulier_config):
    mocked.get(
        V4_URL,
        json=payloads.SCOLARITE_V4_200,
        headers={
            "X-Request-ID": "req-123",
            "RateLimit-Limit": "1200",
            "RateLimit-Remaining": "1199",
            "RateLimit-Reset": "2000000000",
        },
    )

    result = scolarite.verify(session, query, particulier_config)

    assert result.source == Source.API_PARTICULIER
    assert result.found is True
    record = result.data
    assert record.birth_name == "MARTIN"
    assert record.first_name == "EMMA"
    assert record.sex == "F"
    assert record.birth_date == dt.date(2012, 8, 15)
    assert record.school_year == "2025-2026"
    assert record.school_year_start == 2025
    assert record.enrolled is True
    assert record.status_code == "ST"
    assert record.status_label == "Scolaire"
    assert record.uai == "0132733A"
    assert record.establishment_name == "Lycée Polyvalent Antonin Artaud"
    assert record.ministry_code == "06"
    assert record.mef_code == "211324099991"
    assert record.mef_label == "1CAP1 STAFFEUR ORNEMANISTE"
    assert record.scholarship is True
    assert record.scholarship_level == 1
    call = result.call
    assert call.http_status == 200
    assert call.upstream_request_id == "req-123"
    assert call.ratelimit_limit == 1200
    assert call.ratelimit_remaining == 1199
    assert call.ratelimit_reset == 2_000_000_000
    assert call.provider_error_code == ""
    assert call.duration_ms >= 0
    assert result.calls == (call,)


def test_unknown_status_code_and_unknown_keys_are_kept_or_ignored(
    mocked, session, query, particulier_config
):
    body = copy.deepcopy(payloads.SCOLARITE_NOT_ENROLLED_NS)
    body["data"]["regime_pensionnat"] = {"code": "2", "libelle": "Demi-pensionnaire"}
    body["data"]["something_new"] = [1, 2, 3]
    body["meta"] = {"whatever": True}
    mocked.get(V4_URL, json=body)

    record = scolarite.verify(session, query, particulier_config).data

    assert record.enrolled is False
    assert record.status_code == "NS"
    assert record.mef_code is None
    assert record.scholarship is False
    assert record.scholarship_level is None


def test_scope_masked_keys_may_be_absent(mocked, session, query, particulier_config):
    # A token with men_statut_scolarite only: identite, etablissement... are stripped
    # (docs/api/api-particulier.md §Scopes).
    body = {
        "data": {
            "annee_scolaire": "2025-2026",
            "est_scolarise": True,
            "statut_eleve": {"code": "ST", "libelle": "Scolaire"},
        },
        "links": {},
        "meta": {},
    }
    mocked.get(V4_URL, json=body)

    result = scolarite.verify(session, query, particulier_config)

    record = result.data
    assert record.enrolled is True
    assert record.birth_name is None
    assert record.uai is None
    assert record.scholarship is None
    assert record.keys == ("annee_scolaire", "est_scolarise", "statut_eleve")
    assert result.call.redacted["data_keys"] == ["annee_scolaire", "est_scolarise", "statut_eleve"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html>proxy error</html>", "text/html"),
        ('{"links": {}, "meta": {}}', "application/json"),
        ('["data"]', "application/json"),
    ],
)
def test_200_that_is_not_the_envelope_is_unavailable(
    mocked, session, query, particulier_config, body, content_type
):
    mocked.get(V4_URL, body=body, content_type=content_type)

    with pytest.raises(ProviderUnavailable):
        scolarite.verify(session, query, particulier_config)


# --- Documented errors (docs/api/api-particulier.md §Errors) ---------------------------------


def test_404_30003_is_a_not_found_result(mocked, session, query, particulier_config):
    status, body = payloads.SCOLARITE_ERRORS["30003"]
    mocked.get(V4_URL, status=status, body=body, content_type="application/json")

    result = scolarite.verify(session, query, particulier_config)

    assert result.found is False
    assert result.data is None
    assert result.call.http_status == 404
    assert result.call.provider_error_code == "30003"


def test_404_with_the_staging_text_is_the_same_answer(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=404, json=payloads.SCOLARITE_404_STAGING)

    result = scolarite.verify(session, query, particulier_config)

    assert result.found is False
    assert result.call.provider_error_code == "30003"


def test_404_without_the_envelope_means_a_wrong_route(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=404, body="Not Found", content_type="text/plain")

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.code == ROUTE_NOT_FOUND


@pytest.mark.parametrize("code", ["00101", "00103", "00105", "00100", "00419", "00203"])
def test_final_errors_are_rejected_with_their_code(
    mocked, session, query, particulier_config, code
):
    status, body = payloads.SCOLARITE_ERRORS[code]
    mocked.get(V4_URL, status=status, body=body, content_type="application/json")

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.code == code
    assert caught.value.call.http_status == status
    assert caught.value.call.provider_error_code == code
    assert caught.value.source == Source.API_PARTICULIER


@pytest.mark.parametrize("code", sorted(payloads.SCOLARITE_OTHER_422))
def test_other_422_codes_are_rejected(mocked, session, query, particulier_config, code):
    body = payloads.scolarite_error(
        code, "Entité non traitable", payloads.SCOLARITE_OTHER_422[code]
    )
    mocked.get(V4_URL, status=422, json=body)

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.code == code


def test_400_without_envelope_is_rejected(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=400, body="Bad Request", content_type="text/plain")

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.code == "http_400"


def test_409_00015_waits_about_a_minute(mocked, session, query, particulier_config):
    status, body = payloads.SCOLARITE_ERRORS["00015"]
    mocked.get(V4_URL, status=status, body=body, content_type="application/json")

    with pytest.raises(ProviderRateLimited) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.conflict is True
    assert caught.value.retry_after == 60
    assert caught.value.call.provider_error_code == "00015"


def test_429_00429_honours_retry_after(mocked, session, query, particulier_config):
    status, body = payloads.SCOLARITE_ERRORS["00429"]
    mocked.get(
        V4_URL,
        status=status,
        body=body,
        content_type="application/json",
        headers={"Retry-After": "37", "RateLimit-Remaining": "0", "RateLimit-Limit": "1200"},
    )

    with pytest.raises(ProviderRateLimited) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.conflict is False
    assert caught.value.retry_after == 37
    assert caught.value.call.provider_error_code == "00429"
    assert caught.value.call.ratelimit_remaining == 0


def test_429_without_retry_after_waits_until_the_window_resets(
    mocked, session, query, particulier_config, monkeypatch
):
    monkeypatch.setattr("verifications.providers.http.time.time", lambda: 1_800_000_000.0)
    status, body = payloads.SCOLARITE_ERRORS["00429"]
    mocked.get(
        V4_URL,
        status=status,
        body=body,
        content_type="application/json",
        headers={"RateLimit-Reset": "1800000012"},
    )

    with pytest.raises(ProviderRateLimited) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.retry_after == 12


def test_429_with_nothing_to_go_on_waits_a_minute(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=429, body="")

    with pytest.raises(ProviderRateLimited) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.retry_after == 60


@pytest.mark.parametrize(
    ("code", "retry_in"),
    [("30999", None), ("30002", None), ("30001", None), ("00501", 10.0), ("30004", None)],
)
def test_provider_errors_are_unavailable(
    mocked, session, query, particulier_config, code, retry_in
):
    status, body = payloads.SCOLARITE_ERRORS[code]
    mocked.get(V4_URL, status=status, body=body, content_type="application/json")

    with pytest.raises(ProviderUnavailable) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.retry_in == retry_in
    assert caught.value.call.http_status == status
    assert caught.value.call.provider_error_code == code


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_without_envelope_are_unavailable(mocked, session, query, particulier_config, status):
    mocked.get(V4_URL, status=status, body="<html>oops</html>", content_type="text/html")

    with pytest.raises(ProviderUnavailable) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.retry_in is None
    assert caught.value.call.redacted["body"] == "not_json"


def test_503_retry_after_is_a_hint(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=503, body="", headers={"Retry-After": "120"})

    with pytest.raises(ProviderUnavailable) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.retry_in == 120


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.ConnectTimeout("connect timed out"), "timeout"),
        (requests.ReadTimeout("read timed out"), "timeout"),
        (requests.ConnectionError("refused"), "connection_error"),
        (requests.exceptions.SSLError("bad certificate"), "tls_error"),
        (requests.exceptions.ChunkedEncodingError("broken"), "transport_error"),
    ],
)
def test_transport_errors_are_unavailable(mocked, session, query, particulier_config, error, kind):
    mocked.get(V4_URL, body=error)

    with pytest.raises(ProviderUnavailable) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.call.http_status is None
    assert caught.value.call.redacted["error"] == kind
    assert caught.value.retry_in is None
    # requests' message (which holds the URL and its query string) is not chained.
    assert caught.value.__suppress_context__ is True
    assert caught.value.__cause__ is None


def test_redirect_is_not_followed(mocked, session, query, particulier_config):
    mocked.get(V4_URL, status=302, headers={"Location": "https://elsewhere.test/"})

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.code == "vigie.unexpected_redirect"
    assert len(mocked.calls) == 1


# --- Nothing personal leaves in logs, summaries or messages ----------------------------------

PERSONAL = ("MARTIN", "EMMA", "2012", "0132733A", TOKEN, "nomNaissance=")


@pytest.mark.parametrize(
    "answer",
    [
        {"json": payloads.SCOLARITE_V4_200},
        {"status": 404, "json": json.loads(payloads.SCOLARITE_ERRORS["30003"][1])},
        {"status": 502, "json": json.loads(payloads.SCOLARITE_ERRORS["30999"][1])},
        {"body": requests.ConnectTimeout("https://particulier.test/...?nomNaissance=MARTIN")},
    ],
)
def test_redacted_summary_logs_and_messages_hold_no_identity(
    mocked, session, query, particulier_config, caplog, answer
):
    mocked.get(V4_URL, **answer)
    caplog.set_level("DEBUG")

    try:
        result = scolarite.verify(session, query, particulier_config)
        call, message = result.call, ""
    except (ProviderUnavailable, ProviderRejected) as exc:
        call, message = exc.call, str(exc)

    exposed = json.dumps(call.redacted) + message + caplog.text + repr(particulier_config)
    for value in PERSONAL:
        assert value not in exposed
    assert call.redacted["route"] == "/v4/men/scolarites/identite"
    assert "nomNaissance" in call.redacted["params"]


def test_redacted_summary_records_status_and_error_code(mocked, session, query, particulier_config):
    status, body = payloads.SCOLARITE_ERRORS["00103"]
    mocked.get(V4_URL, status=status, body=body, content_type="application/json")

    with pytest.raises(ProviderRejected) as caught:
        scolarite.verify(session, query, particulier_config)

    assert caught.value.call.redacted == {
        "method": "GET",
        "route": "/v4/men/scolarites/identite",
        "params": [
            "anneeDateNaissance",
            "anneeScolaire",
            "codeEtablissement",
            "jourDateNaissance",
            "moisDateNaissance",
            "nomNaissance",
            "prenoms[]",
            "recipient",
            "sexeEtatCivil",
        ],
        "status": 401,
        "keys": ["errors"],
        "error_code": "00103",
    }


def test_provider_config_from_settings_is_read_when_called(settings):
    settings.API_PARTICULIER_BASE_URL = "https://particulier.example"
    settings.API_PARTICULIER_TOKEN = "env-token"
    settings.API_PARTICULIER_TIMEOUT = 5.0
    settings.API_PARTICULIER_VERSION = "v3"

    from_env = ProviderConfig.from_settings(Source.API_PARTICULIER)
    overridden = ProviderConfig.from_settings(Source.API_PARTICULIER, token=" institution ")

    assert from_env == ProviderConfig(
        base_url="https://particulier.example", token="env-token", timeout=5.0, version="v3"
    )
    assert overridden.token == "institution"
    assert "env-token" not in repr(from_env)
    assert from_env.timeouts == (3.05, 5.0)


def test_unmatched_url_would_fail_not_reach_the_network(mocked, session, query, particulier_config):
    # Guard for this module's own tests: an unregistered URL is a connection error.
    mocked.get(V4_URL, json=payloads.SCOLARITE_V4_200)
    with pytest.raises(ProviderUnavailable):
        scolarite.verify(session, query, dataclasses.replace(particulier_config, version="v3"))
    scolarite.verify(session, query, particulier_config)
