import copy
import datetime as dt
import json

import pytest
import responses

from tests.providers import payloads
from tests.providers.conftest import CVEC
from verifications.enums import Source
from verifications.providers import cvec
from verifications.providers.base import (
    INVALID_QUERY,
    CvecQuery,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)


CODE = "VER1ABCDEF12AB"
URL = f"{CVEC}/api/attestation/{CODE}"


@pytest.fixture
def query():
    return CvecQuery(code=CODE, birth_name="Dupont", campaign=2025)


def with_etudiant(value):
    return [responses.matchers.query_param_matcher({"etudiant": value})]


@pytest.mark.parametrize(
    ("birth_name", "key"),
    [
        ("Dupont", "DUPON"),
        ("DUPRÉ", "DUPRE"),
        ("Li", "LI"),
        ("N’Diaye", "NDIAY"),
        ("Ébouard-Lefèvre", "EBOUA"),
        ("de La Tour", "DELAT"),
        ("Œuvrard", "OEUVR"),
        ("Groß", "GROSS"),
        ("", "-"),
        ("’-", "-"),
        ("Иванов", "-"),
    ],
)
def test_etudiant_is_the_first_five_letters(birth_name, key):
    assert cvec.etudiant_key(birth_name) == key


def test_request_is_the_documented_call(mocked, session, query, cvec_config):
    mocked.get(URL, json=payloads.CVEC_200, match=with_etudiant("DUPON"))

    cvec.verify(session, query, cvec_config)

    request = mocked.calls[0].request
    assert "Authorization" not in request.headers  # open API
    assert request.headers["Accept"] == "application/json"
    # The campaign is not sent: the route taking it is unknown (module docstring).
    assert "year" not in request.url
    assert "campagne" not in request.url
    assert request.req_kwargs["timeout"] == (3.05, 10.0)


def test_code_is_compacted_and_escaped_in_the_path(mocked, session, cvec_config):
    mocked.get(f"{CVEC}/api/attestation/AB%2FCD12", json=payloads.CVEC_200)

    cvec.verify(session, CvecQuery(code="ab/cd 12", birth_name="Dupont"), cvec_config)

    assert mocked.calls[0].request.path_url.startswith("/api/attestation/AB%2FCD12?")


def test_a_configured_token_is_sent_as_bearer(mocked, session, query, cvec_config):
    mocked.get(URL, json=payloads.CVEC_200)

    cvec.verify(session, query, ProviderConfig(base_url=CVEC, token="t"))

    assert mocked.calls[0].request.headers["Authorization"] == "Bearer t"


def test_empty_code_is_never_sent(mocked, session, cvec_config):
    with pytest.raises(ProviderRejected) as caught:
        cvec.verify(session, CvecQuery(code=" ", birth_name="Dupont"), cvec_config)
    assert caught.value.code == INVALID_QUERY


def test_no_base_url(mocked, session, query):
    with pytest.raises(ProviderNotConfigured):
        cvec.verify(session, query, ProviderConfig(base_url=""))


def test_2024_answer_is_mapped(mocked, session, query, cvec_config):
    mocked.get(URL, json=payloads.CVEC_200)

    result = cvec.verify(session, query, cvec_config)

    assert result.source == Source.CVEC
    assert result.found is True
    record = result.data
    assert record.birth_name == "DUPONT"
    assert record.usage_name is None
    assert record.first_name == "CAMILLE"
    assert record.sex == "F"  # "2"
    assert record.birth_date == dt.date(2005, 2, 1)  # JJ/MM/AAAA
    assert record.ine == "123456789AB"
    assert record.crous == "Crous de Lyon"
    assert record.state_code == "75"
    assert record.exemption_active is False
    # The summary keeps key names, never their values.
    dumped = json.dumps(result.call.redacted)
    assert "DUPONT" not in dumped
    assert "123456789AB" not in dumped
    assert CODE not in dumped
    assert result.call.redacted["route"] == "/api/attestation/{code}"


def test_2022_answer_is_mapped(mocked, session, query, cvec_config):
    mocked.get(URL, json=payloads.CVEC_2022_200)

    record = cvec.verify(session, query, cvec_config).data

    assert record.birth_date == dt.date(2005, 2, 1)  # dateNaissance, ISO
    assert record.state_code == "71"  # a number in the payload
    assert record.sex == "F"
    assert record.exemption_active is True
    assert record.exemption_reason == "Boursier"


@pytest.mark.parametrize(
    ("sexe", "expected"),
    [
        ("M", "M"),
        ("F", "F"),
        ("1", "M"),
        ("2", "F"),
        (1, "M"),
        (2, "F"),
        ("f", "F"),
        ("Féminin", "F"),
        ("", None),
        ("3", None),
        (None, None),
    ],
)
def test_sex_in_either_notation(mocked, session, query, cvec_config, sexe, expected):
    body = copy.deepcopy(payloads.CVEC_200)
    body["sexe"] = sexe
    mocked.get(URL, json=body)

    assert cvec.verify(session, query, cvec_config).data.sex == expected


@pytest.mark.parametrize(
    ("code", "expected"), [("75", "75"), (75, "75"), (" 98 ", "98"), (None, None)]
)
def test_state_code_as_string_or_number(mocked, session, query, cvec_config, code, expected):
    body = copy.deepcopy(payloads.CVEC_200)
    body["etat"]["code"] = code
    mocked.get(URL, json=body)

    assert cvec.verify(session, query, cvec_config).data.state_code == expected


@pytest.mark.parametrize(
    ("extra", "campaign"),
    [
        ({}, None),  # no documented answer echoes it
        ({"campagne": "2025-2026"}, "2025-2026"),
        ({"year": 2025}, "2025"),
        ({"annee": "2025"}, "2025"),
        ({"campagne": {"code": "2025", "libelle": "2025-2026"}}, "2025-2026"),
        ({"campagne": {"annee": 2024}}, "2024"),
        ({"campagne": "", "year": 2025}, "2025"),
        ({"campagne": None}, None),
        ({"campagne": ["2025"]}, None),
    ],
)
def test_an_echoed_campaign_is_kept_as_text(mocked, session, query, cvec_config, extra, campaign):
    mocked.get(URL, json={**payloads.CVEC_200, **extra})

    assert cvec.verify(session, query, cvec_config).data.campaign == campaign


def test_missing_keys_are_allowed(mocked, session, query, cvec_config):
    mocked.get(URL, json={"etat": {"code": "70"}, "unknown": 1})

    record = cvec.verify(session, query, cvec_config).data

    assert record.state_code == "70"
    assert record.birth_name is None
    assert record.birth_date is None


def test_400_is_not_found(mocked, session, query, cvec_config):
    mocked.get(URL, status=400, json=payloads.CVEC_400)

    result = cvec.verify(session, query, cvec_config)

    assert result.found is False
    assert result.data is None
    assert result.call.http_status == 400


def test_400_without_body_is_not_found_too(mocked, session, query, cvec_config):
    mocked.get(URL, status=400, body="")

    assert cvec.verify(session, query, cvec_config).found is False


def test_404_missing_code_is_rejected(mocked, session, query, cvec_config):
    mocked.get(URL, status=404, json=payloads.CVEC_404)

    with pytest.raises(ProviderRejected) as caught:
        cvec.verify(session, query, cvec_config)

    assert caught.value.code == "404"


@pytest.mark.parametrize("status", [401, 403, 422])
def test_other_4xx_are_rejected(mocked, session, query, cvec_config, status):
    mocked.get(URL, status=status, body="")

    with pytest.raises(ProviderRejected) as caught:
        cvec.verify(session, query, cvec_config)

    assert caught.value.code == f"http_{status}"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_are_unavailable(mocked, session, query, cvec_config, status):
    mocked.get(URL, status=status, body="<html/>")

    with pytest.raises(ProviderUnavailable):
        cvec.verify(session, query, cvec_config)


def test_429_is_rate_limited(mocked, session, query, cvec_config):
    mocked.get(URL, status=429, body="", headers={"Retry-After": "5"})

    with pytest.raises(ProviderRateLimited) as caught:
        cvec.verify(session, query, cvec_config)

    assert caught.value.retry_after == 5


@pytest.mark.parametrize("body", ["", "null", "<html/>", "{}"])
def test_200_without_an_attestation_is_unavailable(mocked, session, query, cvec_config, body):
    mocked.get(URL, body=body)

    with pytest.raises(ProviderUnavailable):
        cvec.verify(session, query, cvec_config)
