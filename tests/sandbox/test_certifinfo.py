"""Certif Info over HTTP (docs/api/certifinfo.md): token header, search, pagination, detail."""

import pytest
import requests

from sandbox.population import CERTIFICATIONS
from sandbox.tokens import CERTIFINFO_TOKEN
from tests.sandbox.support import TIMEOUT


def get(sandbox, route: str, token: str | None = CERTIFINFO_TOKEN, **params) -> requests.Response:
    headers = {"token-connexion": token} if token else {}
    return requests.get(
        f"{sandbox.certifinfo_url}/{route}", params=params, headers=headers, timeout=TIMEOUT
    )


@pytest.mark.parametrize("token", [None, "wrong"])
def test_token_connexion_header_is_required(sandbox, token):
    response = get(sandbox, "recherche", token=token, intitule="BTS")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_search_by_rncp_finds_one_certification(sandbox):
    body = get(sandbox, "recherche", rncp="RNCP35185").json()

    assert body["totalResult"] == 1
    (item,) = body["data"]
    assert item == {
        "certifinfo_code": 90001,
        "certifinfo_intitule": "BTS Services informatiques aux organisations",
        "niveau_europeen_code": 5,
        "rncp_code": "RNCP35185",
        "rs_code": [],
        "archive": False,
    }


def test_search_by_rs_and_by_folded_title(sandbox):
    assert get(sandbox, "recherche", rs="RS5487").json()["data"][0]["certifinfo_code"] == 90011
    found = get(sandbox, "recherche", intitule="patissier").json()["data"]
    titles = [i["certifinfo_intitule"] for i in found]
    assert titles == ["CAP Pâtissier"]


def test_unknown_code_finds_nothing(sandbox):
    body = get(sandbox, "recherche", rncp="RNCP99901").json()

    assert (body["data"], body["totalResult"]) == ([], 0)


def test_pagination_walks_the_whole_catalogue(sandbox):
    seen, page, body = [], 1, None
    while True:
        body = get(sandbox, "recherche", page_num=page, page_size=5).json()
        assert body["totalResult"] == len(CERTIFICATIONS)
        assert len(body["data"]) <= 5
        seen += [item["certifinfo_code"] for item in body["data"]]
        assert (body["previous"] is None) == (page == 1)
        if body["next"] is None:
            break
        assert "page_num=" + str(page + 1) in body["next"]
        page += 1

    assert page == 4
    assert sorted(seen) == sorted(c.certifinfo_id for c in CERTIFICATIONS)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"page_size": 100}, 200),
        ({"page_size": 101}, 422),
        ({"page_size": 0}, 422),
        ({"page_num": 0}, 422),
        ({"page_num": "x"}, 422),
        ({"archive": "maybe"}, 422),
    ],
)
def test_page_size_is_at_most_100(sandbox, params, status):
    response = get(sandbox, "recherche", **params)

    assert response.status_code == status
    if status == 422:
        assert response.json()["detail"][0]["loc"][0] == "query"


def test_filters_by_level_and_archive(sandbox):
    archived = get(sandbox, "recherche", archive="true", page_size=100).json()["data"]
    level7 = get(sandbox, "recherche", niveau_europeen=7, page_size=100).json()["data"]

    assert {i["certifinfo_code"] for i in archived} == {
        c.certifinfo_id for c in CERTIFICATIONS if c.archived
    }
    assert all(i["niveau_europeen_code"] == 7 for i in level7)
    assert level7


def test_detail_of_active_and_archived_certifications(sandbox):
    active = get(sandbox, "certification", id=90004).json()
    archived = get(sandbox, "certification", id=90009).json()

    assert active["certifinfo_code"] == 90004
    assert (active["niveau_europeen_code"], active["etat_libelle"]) == (7, "Active")
    assert active["rncp"] == [
        {"code": "RNCP36061", "libelle": "Master Droit public", "actif": True}
    ]
    assert archived["archive"] is True
    assert archived["rncp"][0]["actif"] is False
    assert archived["rncp_historique"] == [
        {"code": "RNCP24424", "date_fin_enregistrement": "31/12/2019", "actif": False}
    ]
    assert active["rncp_historique"] == []


@pytest.mark.parametrize(("value", "status"), [("424242", 404), ("", 422), ("abc", 422)])
def test_detail_errors(sandbox, value, status):
    assert get(sandbox, "certification", id=value).status_code == status


def test_scenario_case_answers_a_server_error(sandbox):
    assert get(sandbox, "certification", id=99500).status_code == 500
