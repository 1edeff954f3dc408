import copy
import datetime as dt

import pytest
from responses import matchers

from tests.providers import payloads
from tests.providers.conftest import CERTIFINFO, TOKEN
from verifications.enums import Source
from verifications.providers import certifinfo
from verifications.providers.base import (
    INVALID_QUERY,
    CertificationQuery,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)


SEARCH = f"{CERTIFINFO}/recherche"
DETAIL = f"{CERTIFINFO}/certification"


def params(**values):
    return [matchers.query_param_matcher({k: str(v) for k, v in values.items()})]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RNCP30086", ("rncp", "RNCP30086")),
        (" rncp 30086 ", ("rncp", "RNCP30086")),
        ("RS1234", ("rs", "RS1234")),
        ("108536", ("id", "108536")),
        ("00108536", ("id", "108536")),
    ],
)
def test_classify(code, expected):
    assert certifinfo.classify(code) == expected


@pytest.mark.parametrize("code", ["", "RNCP", "ABC123", "RNCP12A", "-5"])
def test_invalid_code_is_never_sent(mocked, session, certifinfo_config, code):
    with pytest.raises(ProviderRejected) as caught:
        certifinfo.verify(session, CertificationQuery(code=code), certifinfo_config)
    assert caught.value.code == INVALID_QUERY


def test_numeric_id_goes_straight_to_the_detail(mocked, session, certifinfo_config):
    mocked.get(DETAIL, json=payloads.CERTIFINFO_DETAIL_CATALOGUE, match=params(id=54321))

    result = certifinfo.verify(session, CertificationQuery(code="54321"), certifinfo_config)

    assert result.source == Source.CERTIFINFO
    assert result.found is True
    record = result.data
    assert record.certifinfo_id == "54321"
    assert record.title == "BTS Services informatiques aux organisations"
    assert record.level == 5
    assert record.level_label == "Niveau 5"
    assert record.archived is False
    assert record.codes == ("RNCP35340",)
    assert record.matched_by == "id"
    assert mocked.calls[0].request.headers["token-connexion"] == TOKEN
    assert len(result.calls) == 1


def test_numeric_id_404_is_not_found(mocked, session, certifinfo_config):
    mocked.get(DETAIL, status=404, json={"detail": "Not Found"})

    result = certifinfo.verify(session, CertificationQuery(code="999"), certifinfo_config)

    assert result.found is False
    assert result.call.http_status == 404


def test_rncp_code_searches_then_reads_the_detail(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json=payloads.CERTIFINFO_SEARCH, match=params(rncp="RNCP30086"))
    mocked.get(DETAIL, json=payloads.CERTIFINFO_DETAIL_CLIENT, match=params(id=108536))

    result = certifinfo.verify(session, CertificationQuery(code="RNCP30086"), certifinfo_config)

    assert result.found is True
    record = result.data
    assert record.certifinfo_id == "108536"
    assert record.title == "Licence professionnelle métiers de l'informatique"
    assert record.level == 6  # "Niveau 6"
    assert record.archived is False  # etat_libelle "Active"
    assert record.code_active is True  # rncp[].actif of the declared code
    assert record.codes == ("RNCP30086",)
    assert record.matched_by == "rncp"
    assert record.candidates == 1
    # Two upstream calls, both reported; `call` is the last.
    assert [c.redacted["route"] for c in result.calls] == ["/recherche", "/certification"]
    assert result.call is result.calls[-1]
    assert result.calls[0].redacted["candidates"] == 1


def test_rs_code_searches_by_rs(mocked, session, certifinfo_config):
    mocked.get(
        SEARCH,
        json={
            "data": [
                {"id": 7, "intitule": "Habilitation", "rs": [{"code": "RS1234", "actif": False}]}
            ]
        },
        match=params(rs="RS1234"),
    )
    mocked.get(
        DETAIL, json={"id": 7, "intitule": "Habilitation", "actif": True}, match=params(id=7)
    )

    record = certifinfo.verify(session, CertificationQuery(code="RS1234"), certifinfo_config).data

    assert record.matched_by == "rs"
    assert record.level is None
    assert record.archived is False
    assert record.code_active is False  # known from the search result
    assert record.codes == ("RS1234",)


def test_detail_silent_fields_are_completed_by_the_search(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json=payloads.CERTIFINFO_SEARCH)
    mocked.get(DETAIL, json={"certifinfo_code": 108536})

    record = certifinfo.verify(
        session, CertificationQuery(code="RNCP30086"), certifinfo_config
    ).data

    assert record.level == 6  # niveau_europeen_code of the search result
    assert record.title.startswith("Licence professionnelle")


@pytest.mark.parametrize("body", [{"data": [], "totalResult": 0}, [], {"results": []}])
def test_empty_search_is_not_found(mocked, session, certifinfo_config, body):
    mocked.get(SEARCH, json=body)

    result = certifinfo.verify(session, CertificationQuery(code="RNCP1"), certifinfo_config)

    assert result.found is False
    assert len(result.calls) == 1


def test_search_results_for_other_codes_do_not_count(mocked, session, certifinfo_config):
    mocked.get(
        SEARCH, json={"data": [{"id": 1, "rncp_code": "RNCP11"}, {"id": 2, "rncp": ["RNCP12"]}]}
    )

    result = certifinfo.verify(session, CertificationQuery(code="RNCP1"), certifinfo_config)

    assert result.found is False
    assert result.call.redacted["results"] == 2
    assert result.call.redacted["candidates"] == 0


def test_an_active_result_is_preferred(mocked, session, certifinfo_config):
    mocked.get(
        SEARCH,
        json={
            "data": [
                {"id": 1, "rncp_code": "RNCP5", "archive": True},
                {"id": 2, "rncp_code": "RNCP5"},
                {"id": 3, "rncp_code": "RNCP5", "archive": False},
            ]
        },
    )
    mocked.get(DETAIL, json=payloads.CERTIFINFO_DETAIL_CATALOGUE, match=params(id=3))

    record = certifinfo.verify(session, CertificationQuery(code="RNCP5"), certifinfo_config).data

    assert record.candidates == 3


def test_search_result_without_an_id_is_used_as_is(mocked, session, certifinfo_config):
    mocked.get(
        SEARCH, json={"data": [{"intitule": "X", "niveau_europeen": 7, "rncp_code": "RNCP9"}]}
    )

    result = certifinfo.verify(session, CertificationQuery(code="RNCP9"), certifinfo_config)

    assert result.found is True
    assert result.data.level == 7
    assert len(result.calls) == 1


def test_detail_404_after_search_is_not_found_with_both_calls(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json=payloads.CERTIFINFO_SEARCH)
    mocked.get(DETAIL, status=404, body="")

    result = certifinfo.verify(session, CertificationQuery(code="RNCP30086"), certifinfo_config)

    assert result.found is False
    assert [c.http_status for c in result.calls] == [200, 404]


def test_detail_failure_after_search_reports_both_calls(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json=payloads.CERTIFINFO_SEARCH)
    mocked.get(DETAIL, status=502, body="")

    with pytest.raises(ProviderUnavailable) as caught:
        certifinfo.verify(session, CertificationQuery(code="RNCP30086"), certifinfo_config)

    assert [c.http_status for c in caught.value.calls] == [200, 502]
    assert caught.value.call.http_status == 502


@pytest.mark.parametrize("route", [SEARCH, DETAIL])
def test_422_is_rejected(mocked, session, certifinfo_config, route):
    mocked.get(route, status=422, json=payloads.CERTIFINFO_422)
    code = "RNCP1" if route == SEARCH else "1"

    with pytest.raises(ProviderRejected) as caught:
        certifinfo.verify(session, CertificationQuery(code=code), certifinfo_config)

    assert caught.value.code == "http_422"


@pytest.mark.parametrize(
    ("status", "body", "exception", "code"),
    [
        (401, {"code": "TOKEN_INVALID", "message": "x"}, ProviderRejected, "TOKEN_INVALID"),
        (403, {"error": {"code": "forbidden"}}, ProviderRejected, "forbidden"),
        (400, {"errors": [{"code": "E1"}]}, ProviderRejected, "E1"),
        (429, None, ProviderRateLimited, ""),
        (500, None, ProviderUnavailable, ""),
        (503, None, ProviderUnavailable, ""),
    ],
)
def test_errors(mocked, session, certifinfo_config, status, body, exception, code):
    mocked.get(DETAIL, status=status, json=body)

    with pytest.raises(exception) as caught:
        certifinfo.verify(session, CertificationQuery(code="1"), certifinfo_config)

    assert caught.value.call.provider_error_code == code


def test_no_token_sends_no_header(mocked, session):
    # Whether the API is open is disputed [V-3p]: an empty token is tried, not refused.
    mocked.get(DETAIL, json=payloads.CERTIFINFO_DETAIL_CATALOGUE)

    certifinfo.verify(session, CertificationQuery(code="1"), ProviderConfig(base_url=CERTIFINFO))

    assert "token-connexion" not in mocked.calls[0].request.headers


def test_no_base_url(mocked, session):
    with pytest.raises(ProviderNotConfigured):
        certifinfo.verify(session, CertificationQuery(code="1"), ProviderConfig(base_url=""))


@pytest.mark.parametrize(
    "body", [{"data": payloads.CERTIFINFO_DETAIL_CATALOGUE}, [payloads.CERTIFINFO_DETAIL_CATALOGUE]]
)
def test_detail_wrapped_or_listed(mocked, session, certifinfo_config, body):
    mocked.get(DETAIL, json=body)

    record = certifinfo.verify(session, CertificationQuery(code="1"), certifinfo_config).data

    assert record.level == 5


@pytest.mark.parametrize("body", ["null", "{}", "[]", '{"data": []}'])
def test_empty_detail_is_not_found(mocked, session, certifinfo_config, body):
    mocked.get(DETAIL, body=body, content_type="application/json")

    assert (
        certifinfo.verify(session, CertificationQuery(code="1"), certifinfo_config).found is False
    )


def test_non_json_detail_is_unavailable(mocked, session, certifinfo_config):
    mocked.get(DETAIL, body="<html/>")

    with pytest.raises(ProviderUnavailable):
        certifinfo.verify(session, CertificationQuery(code="1"), certifinfo_config)


def test_unrecognised_search_body_is_unavailable(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json={"total": 3})

    with pytest.raises(ProviderUnavailable):
        certifinfo.verify(session, CertificationQuery(code="RNCP1"), certifinfo_config)


# --- The tolerant field mapping ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "level"),
    [
        ({"niveau_europeen": 6}, 6),
        ({"niveau_europeen": "6"}, 6),
        ({"niveau_europeen": {"code": "7", "libelle": "Niveau 7"}}, 7),
        ({"niveau_europeen": {"code": None, "libelle": "Niveau 3"}}, 3),
        ({"niveau_europeen_code": 4}, 4),
        ({"niveau_europeen_code": "NIV5"}, 5),
        ({"niveau_europeen_libelle": "Niveau 6 (licence)"}, 6),
        ({"niveau_europeen": 9}, None),
        ({"niveau_europeen": 0}, None),
        ({"niveau_europeen": True}, None),
        ({"niveau_europeen": "sans niveau"}, None),
        ({}, None),
    ],
)
def test_level(item, level):
    assert certifinfo.parse_record(item).level == level


@pytest.mark.parametrize(
    ("item", "archived"),
    [
        ({"archive": True}, True),
        ({"archive": "false"}, False),
        ({"actif": False}, True),
        ({"actif": True}, False),
        ({"etat_libelle": "Active"}, False),
        ({"etat_libelle": "Inactive"}, True),
        ({"etat_libelle": "Archivée"}, True),
        ({"etat_libelle": "En vigueur"}, False),
        ({"etat": {"code": "X", "libelle": "Périmée"}}, True),
        ({"etat": "Enregistrée"}, False),
        ({"etat_libelle": "?"}, None),
        ({"archive": False, "actif": False}, False),  # the explicit flag wins
        ({}, None),
    ],
)
def test_archived(item, archived):
    assert certifinfo.parse_record(item).archived is archived


@pytest.mark.parametrize(
    ("item", "title"),
    [
        ({"intitule": "A"}, "A"),
        ({"certifinfo_intitule": "B"}, "B"),
        ({"intitule": "", "certifinfo_intitule": "C"}, "C"),
        ({}, None),
    ],
)
def test_title(item, title):
    assert certifinfo.parse_record(item).title == title


def test_codes_in_every_shape():
    item = {
        "rncp": [{"code": "RNCP1", "actif": False}, "RNCP2", "3"],
        "rncp_code": "RNCP4",
        "rs_code": ["RS5"],
        "rs": [{"code": "rs 6"}],
    }
    record = certifinfo.parse_record(copy.deepcopy(item), code="RNCP1")
    assert record.codes == ("RNCP1", "RNCP2", "RNCP3", "RNCP4", "RS5", "RS6")
    assert record.code_active is False


# --- Codes in any writing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "declared"),
    [
        ("RNCP012345", "RNCP12345"),
        ("RNCP12345", "RNCP012345"),
        ("rncp 12345", "RNCP12345"),
        ("12345", "RNCP0012345"),
        ("RS01234", "RS1234"),
    ],
)
def test_search_results_match_the_code_in_any_writing(
    mocked, session, certifinfo_config, listed, declared
):
    mocked.get(SEARCH, json={"data": [{"id": 4, "rncp_code": listed, "rs_code": []}]})
    mocked.get(DETAIL, json={"id": 4, "rncp": [{"code": listed, "actif": False}]})

    result = certifinfo.verify(session, CertificationQuery(code=declared), certifinfo_config)

    assert result.found is True
    assert result.data.candidates == 1
    assert result.data.code_active is False  # the declared code's own flag, whatever its writing


def test_other_codes_still_do_not_match_in_any_writing(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json={"data": [{"id": 1, "rncp_code": "RNCP0123450"}]})

    result = certifinfo.verify(session, CertificationQuery(code="RNCP12345"), certifinfo_config)

    assert result.found is False


# --- End of registration (rncp_historique) ----------------------------------------------------


def test_the_end_of_registration_comes_from_the_history(mocked, session, certifinfo_config):
    mocked.get(SEARCH, json={"data": [{"certifinfo_code": 90009, "rncp_code": "RNCP24424"}]})
    mocked.get(DETAIL, json=payloads.CERTIFINFO_DETAIL_HISTORY, match=params(id=90009))

    record = certifinfo.verify(
        session, CertificationQuery(code="RNCP24424"), certifinfo_config
    ).data

    assert record.archived is True
    # The declared code's item, not the older RNCP4028's.
    assert record.registration_ended == dt.date(2019, 12, 31)


@pytest.mark.parametrize(
    ("item", "code", "ended"),
    [
        # a list of dicts, dates in either writing
        ({"rncp_historique": [{"date_fin_enregistrement": "2019-12-31"}]}, "RNCP1", "2019-12-31"),
        ({"rncp_historique": [{"date_fin_enregistrement": "31/12/2019"}]}, "RNCP1", "2019-12-31"),
        # one dict
        ({"rncp_historique": {"date_fin_enregistrement": "30/06/2021"}}, "RNCP1", "2021-06-30"),
        # a dict keyed by code: only the declared code's entry counts
        (
            {
                "rncp_historique": {
                    "RNCP1": {"date_fin_enregistrement": "2018-01-01"},
                    "RNCP2": {"date_fin_enregistrement": "2022-01-01"},
                }
            },
            "RNCP01",
            "2018-01-01",
        ),
        # items of other codes are skipped; bare numbers are RNCP numbers
        (
            {
                "rncp_historique": [
                    {"code": "RNCP2", "date_fin_enregistrement": "2022-01-01", "actif": True},
                    {"rncp": "1", "date_fin_enregistrement": "2017-03-01", "actif": False},
                ]
            },
            "RNCP1",
            "2017-03-01",
        ),
        # the latest of the declared code's items
        (
            {
                "rncp_historique": [
                    {"code": "RNCP1", "date_fin_enregistrement": "2015-01-01"},
                    {"code": "RNCP1", "date_fin_enregistrement": "2020-01-01"},
                    {"date_fin_enregistrement": "not a date"},
                ]
            },
            "RNCP1",
            "2020-01-01",
        ),
        # asked by Certif Info id: every item counts
        (
            {"rncp_historique": [{"code": "RNCP2", "date_fin_enregistrement": "2022-01-01"}]},
            "108536",
            "2022-01-01",
        ),
        # on the certification itself
        ({"date_fin_enregistrement": "2016-09-01"}, "RNCP1", "2016-09-01"),
        # nothing usable
        (
            {"rncp_historique": [{"code": "RNCP2", "date_fin_enregistrement": "2022-01-01"}]},
            "RNCP1",
            None,
        ),
        ({"rncp_historique": [{"actif": False}]}, "RNCP1", None),
        ({"rncp_historique": "31/12/2019"}, "RNCP1", None),
        ({"rncp_historique": None}, "RNCP1", None),
        ({}, "RNCP1", None),
    ],
)
def test_registration_end_in_every_shape(item, code, ended):
    record = certifinfo.parse_record(item, code=code)

    assert record.registration_ended == (dt.date.fromisoformat(ended) if ended else None)
