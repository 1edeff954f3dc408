"""API Particulier (MEN scolarités) over HTTP: shapes, codes and bodies of
docs/api/api-particulier.md."""

import copy
from datetime import date

import pytest
import requests

from sandbox import tokens
from sandbox.population import (
    ESTABLISHMENTS,
    STAGING_PUPILS,
    STAGING_RECIPIENT,
    ScolariteOutcome,
)
from tests.sandbox import reference
from tests.sandbox.support import TIMEOUT, first, get_scolarite, person_params, scolarite_params


EMMA = scolarite_params("MARTIN", ["EMMA"], "F", date(2012, 8, 15), "0132733A", 2025)
JUSTINE = scolarite_params("Martin", ["Justine"], "F", date(2000, 1, 20), "0890003V", 2022)


@pytest.mark.parametrize("version", ["v4", "v3"])
def test_staging_example_answers_verbatim(sandbox, version):
    response = get_scolarite(sandbox.url, EMMA, version=version)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == reference.V4_MARTIN_EMMA


def test_v3_example_matches_the_reference_except_the_inconsistent_uai(sandbox):
    body = get_scolarite(sandbox.url, JUSTINE, version="v3").json()

    expected = copy.deepcopy(reference.V3_MARTIN_JUSTINE)
    # Staging answers 0210015C to a request for 0890003V; the sandbox answers what was asked.
    expected["data"]["etablissement"]["code_uai"] = "0890003V"
    assert body == expected


@pytest.mark.parametrize("pupil", STAGING_PUPILS, ids=lambda p: f"{p.birth_name}-{p.status}")
def test_every_published_staging_identity_gets_its_documented_status(sandbox, pupil):
    params = scolarite_params(
        pupil.birth_name,
        list(pupil.first_names),
        pupil.sex,
        pupil.birth_date,
        pupil.uai,
        pupil.school_year,
    )
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == pupil.status, pupil.title
    if pupil.status == 200:
        identite = response.json()["data"]["identite"]
        assert identite["date_naissance"] == pupil.birth_date.isoformat()
    else:
        assert response.json()["errors"][0]["code"] in {"30003", "30002"}


def test_unknown_pupil_is_404_30003_verbatim(sandbox):
    params = scolarite_params("INCONNU", ["PERSONNE"], "M", date(2001, 2, 3), "0132733A", 2025)
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == 404
    assert response.json() == reference.PARTICULIER_ERRORS["30003"]


def test_staging_404_fixture_keeps_its_accented_detail_and_the_same_code(sandbox):
    response = get_scolarite(
        sandbox.url,
        scolarite_params("Martin", ["Jerome"], "M", date(2000, 1, 20), "0890003V", 2022),
    )

    error = response.json()["errors"][0]
    assert (response.status_code, error["code"]) == (404, "30003")
    assert error["detail"].startswith("Aucun élève")


def test_faure_felix_is_504_30002_verbatim(sandbox):
    params = scolarite_params("Faure", ["Felix"], "M", date(2000, 1, 20), "0890003V", 2022)
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == 504
    assert response.json() == reference.PARTICULIER_ERRORS["30002"]


@pytest.mark.parametrize(
    ("token", "code", "status"),
    [
        (None, "00101", 401),
        ("not-a-token", "00101", 401),
        (tokens.make_token("stranger", scopes=["men_statut_identite"]), "00101", 401),
        (tokens.EXPIRED_TOKEN, "00103", 401),
        (tokens.BLACKLISTED_TOKEN, "00105", 401),
        (tokens.NO_MEN_SCOPE_TOKEN, "00100", 403),
    ],
    ids=["missing", "garbage", "unlisted", "expired", "blacklisted", "no-men-scope"],
)
def test_token_errors_are_verbatim(sandbox, token, code, status):
    response = get_scolarite(sandbox.url, EMMA, token=token)

    assert response.status_code == status
    assert response.json() == reference.PARTICULIER_ERRORS[code]
    assert "RateLimit-Limit" in response.headers


def test_a_token_sent_as_query_parameter_is_not_accepted(sandbox):
    response = get_scolarite(sandbox.url, {**EMMA, "token": tokens.DEFAULT_TOKEN}, token=None)

    assert response.status_code == 401


def test_configured_tokens_are_read_without_checking_the_signature(sandbox):
    mine = tokens.make_token("my-test-token", scopes=["men_statut_identite"])
    sandbox.configure(particulier_tokens=[mine])

    assert get_scolarite(sandbox.url, EMMA, token=mine).status_code == 200
    assert get_scolarite(sandbox.url, EMMA).status_code == 401  # the default is no longer listed


def test_missing_recipient_is_422_00203_verbatim(sandbox):
    response = get_scolarite(sandbox.url, {**EMMA, "recipient": None})

    assert response.status_code == 422
    assert response.json() == reference.PARTICULIER_ERRORS["00203"]


@pytest.mark.parametrize("recipient", ["13002526500014", "1300252650001", "ABCDEFGHIJKLMN"])
def test_a_recipient_that_is_not_a_siret_is_422_00210(sandbox, recipient):
    response = get_scolarite(sandbox.url, {**EMMA, "recipient": recipient})

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "00210"


def test_uai_and_perimeter_together_is_422_00419_verbatim(sandbox):
    response = get_scolarite(sandbox.url, {**EMMA, "codesBcnDepartements[]": ["013"]})

    assert response.status_code == 422
    assert response.json() == reference.PARTICULIER_ERRORS["00419"]


@pytest.mark.parametrize(
    ("change", "code", "parameter"),
    [
        ({"sexeEtatCivil": None}, "00427", "sexeEtatCivil"),
        ({"sexeEtatCivil": "f"}, "00366", "sexeEtatCivil"),
        ({"nomNaissance": ""}, "00366", "nomNaissance"),
        ({"prenoms[]": None}, "00366", "prenoms"),
        ({"prenoms[]": ["A", "B", "C", "D"]}, "00366", "prenoms"),
        ({"moisDateNaissance": 13}, "00366", "moisDateNaissance"),
        ({"jourDateNaissance": 30, "moisDateNaissance": 2}, "00366", "jourDateNaissance"),
        ({"anneeScolaire": "25-26"}, "00366", "anneeScolaire"),
        ({"codeEtablissement": "013273A"}, "00366", "codeEtablissement"),
        ({"codeEtablissement": None}, "00366", "codeEtablissement"),
        ({"degreEtablissement": "3D"}, "00366", "degreEtablissement"),
    ],
)
def test_civility_parameters_are_validated(sandbox, change, code, parameter):
    params = {k: v for k, v in {**EMMA, **change}.items() if v is not None}
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert code in {e["code"] for e in errors}
    assert all(e["title"] == "Entité non traitable" for e in errors)
    if code == "00366":
        assert parameter in {(e["source"] or {}).get("parameter") for e in errors}


def test_v3_requires_the_uai_but_v4_accepts_a_department_perimeter(sandbox):
    p = first(lambda p: p.scolarite == ScolariteOutcome.ENROLLED)
    perimeter = person_params(p, codeEtablissement=None)
    perimeter["codesBcnDepartements[]"] = [p.uai[:3]]

    assert get_scolarite(sandbox.url, perimeter, version="v3").status_code == 422
    found = get_scolarite(sandbox.url, perimeter, version="v4")
    assert found.status_code == 200
    assert found.json()["data"]["etablissement"]["code_uai"] == p.uai
    elsewhere = {**perimeter, "codesBcnDepartements[]": ["971"]}
    assert get_scolarite(sandbox.url, elsewhere).status_code == 404


def test_only_the_first_given_name_is_matched_and_names_are_folded(sandbox):
    # Staging's "Dupré Hind": accents, case and extra given names do not matter.
    params = scolarite_params("DUPRE", ["hind", "Autre"], "F", date(2000, 12, 8), "0782567S", 2025)
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == 200
    assert response.json()["data"]["echelon_bourse"] == 6
    second_first = {**params, "prenoms[]": ["Autre", "Hind"]}
    assert get_scolarite(sandbox.url, second_first).status_code == 404


def test_a_given_name_holding_a_comma_is_rejected_by_the_provider(sandbox):
    params = {**EMMA, "prenoms[]": ["EMMA, ROSE"]}
    response = get_scolarite(sandbox.url, params)

    assert response.status_code == 502
    assert response.json() == reference.PARTICULIER_ERRORS["30999"]


@pytest.mark.parametrize("annee", ["2026", "2026-2027"])
def test_generated_population_answers_with_each_persons_outcome(sandbox, annee):
    enrolled = first(lambda p: p.scolarite == ScolariteOutcome.ENROLLED)
    not_enrolled = first(lambda p: p.scolarite == ScolariteOutcome.NOT_ENROLLED)
    unknown = first(lambda p: p.scolarite == ScolariteOutcome.UNKNOWN)
    failing = first(lambda p: p.scolarite == ScolariteOutcome.PROVIDER_ERROR)

    ok = get_scolarite(sandbox.url, person_params(enrolled, anneeScolaire=annee))
    assert ok.status_code == 200
    data = ok.json()["data"]
    assert data["est_scolarise"] is True
    assert data["statut_eleve"]["code"] == "ST"
    assert data["etablissement"]["code_uai"] == enrolled.uai
    assert data["identite"] == {
        "nom": enrolled.birth_name,
        "prenom": enrolled.first_names[0],
        "sexe": enrolled.sex,
        "date_naissance": enrolled.birth_date.isoformat(),
    }
    assert data["annee_scolaire"] == "2026-2027"
    assert set(data) == set(reference.V4_MARTIN_EMMA["data"])

    no = get_scolarite(sandbox.url, person_params(not_enrolled, anneeScolaire=annee)).json()
    assert no["data"]["est_scolarise"] is False
    assert no["data"]["statut_eleve"]["code"] == "NS"

    missing = get_scolarite(sandbox.url, person_params(unknown, anneeScolaire=annee))
    assert missing.status_code == 404
    assert missing.json() == reference.PARTICULIER_ERRORS["30003"]

    broken = get_scolarite(sandbox.url, person_params(failing, anneeScolaire=annee))
    assert broken.status_code == 502
    assert broken.json() == reference.PARTICULIER_ERRORS["30999"]


def test_another_establishment_or_year_is_not_found(sandbox):
    p = first(lambda p: p.scolarite == ScolariteOutcome.ENROLLED)
    other_uai = next(uai for uai in ESTABLISHMENTS if uai != p.uai)

    assert get_scolarite(sandbox.url, person_params(p)).status_code == 200
    elsewhere = get_scolarite(sandbox.url, person_params(p, codeEtablissement=other_uai))
    assert elsewhere.status_code == 404
    assert get_scolarite(sandbox.url, person_params(p, anneeScolaire="2025")).status_code == 404


def test_reduced_scope_token_gets_the_masked_answer(sandbox):
    masked = get_scolarite(sandbox.url, EMMA, token=tokens.REDUCED_SCOPE_TOKEN).json()

    assert set(masked["data"]) == {"identite", "annee_scolaire", "est_scolarise", "statut_eleve"}
    assert masked["data"]["identite"] == reference.V4_MARTIN_EMMA["data"]["identite"]


def test_scope_masking_applies_to_the_generated_population_too(sandbox):
    p = first(lambda p: p.scolarite == ScolariteOutcome.ENROLLED)
    boursier = tokens.make_token("bourse-only", scopes=["men_statut_boursier"])
    sandbox.configure(particulier_tokens=[boursier])

    data = get_scolarite(sandbox.url, person_params(p), token=boursier).json()["data"]

    assert set(data) == {"est_boursier"}


def test_staging_behaviour_does_not_mask(sandbox):
    sandbox.configure(scope_masking=False)

    body = get_scolarite(sandbox.url, EMMA, token=tokens.REDUCED_SCOPE_TOKEN).json()

    assert body == reference.V4_MARTIN_EMMA


def test_v2_legacy_route_answers_legacy_shapes(sandbox):
    url = f"{sandbox.url}/particulier/api/v2/scolarites"
    params = {
        "nom": "Martin",
        "prenom": "Justine",
        "sexe": "f",
        "dateNaissance": "2000-01-20",
        "codeEtablissement": "0890003V",
        "anneeScolaire": "2022",
    }
    headers = {"X-Api-Key": tokens.DEFAULT_TOKEN}

    ok = requests.get(url, params=params, headers=headers, timeout=TIMEOUT)
    assert (ok.status_code, ok.json()) == (200, reference.V2_MARTIN_JUSTINE)
    missing = requests.get(
        url, params={**params, "prenom": "Jerome"}, headers=headers, timeout=TIMEOUT
    )
    assert (missing.status_code, missing.json()) == (404, reference.V2_NOT_FOUND)
    gender = requests.get(
        url, params={**params, "sexe": "not_valid"}, headers=headers, timeout=TIMEOUT
    )
    assert (gender.status_code, gender.json()) == (400, reference.V2_BAD_GENDER)
    assert requests.get(url, params=params, timeout=TIMEOUT).status_code == 401

    sandbox.configure(particulier_v2="gone")
    assert requests.get(url, params=params, headers=headers, timeout=TIMEOUT).status_code == 410


def test_v2_generated_population_uses_the_legacy_shape(sandbox):
    p = first(lambda p: p.scolarite == ScolariteOutcome.ENROLLED)
    params = {
        "nom": p.birth_name,
        "prenom": p.first_names[0],
        "sexe": p.sex.lower(),
        "dateNaissance": p.birth_date.isoformat(),
        "codeEtablissement": p.uai,
        "anneeScolaire": str(p.school_year),
    }
    response = requests.get(
        f"{sandbox.url}/particulier/api/v2/scolarites",
        params=params,
        headers={"X-Api-Key": tokens.DEFAULT_TOKEN},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert set(response.json()) == set(reference.V2_MARTIN_JUSTINE)
    assert response.json()["code_etablissement"] == p.uai


def test_introspect_lists_the_tokens_scopes(sandbox):
    response = requests.get(
        f"{sandbox.url}/particulier/api/introspect",
        params={"token": tokens.REDUCED_SCOPE_TOKEN},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert response.json() == {
        "_id": "vigie-sandbox-reduced",
        "name": None,
        "scopes": ["men_statut_identite", "men_statut_scolarite"],
    }


def test_pings_answer_and_report_an_outage(sandbox):
    ping = f"{sandbox.url}/particulier/api/men_scolarite/ping"
    assert requests.get(ping, timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{sandbox.url}/particulier/api/pings", timeout=TIMEOUT).ok

    sandbox.configure(apis={"particulier": {"outage": True}})

    assert requests.get(ping, timeout=TIMEOUT).status_code == 503
    down = get_scolarite(sandbox.url, EMMA)
    assert (down.status_code, down.json()) == (504, reference.PARTICULIER_ERRORS["30001"])
    # The provider is down, not the gateway: limits and the token are still checked.
    assert "RateLimit-Remaining" in down.headers
    assert get_scolarite(sandbox.url, EMMA, token=None).status_code == 401


def test_every_answer_has_a_request_id(sandbox):
    ids = {get_scolarite(sandbox.url, EMMA).headers["X-Request-Id"] for _ in range(3)}
    ids.add(get_scolarite(sandbox.url, EMMA, token=None).headers["X-Request-Id"])

    assert len(ids) == 4


def test_unknown_route_is_404(sandbox):
    response = requests.get(f"{sandbox.url}/particulier/v4/nothing", timeout=TIMEOUT)

    assert response.status_code == 404
    assert "errors" in response.json()


def test_recipient_of_the_staging_examples_is_a_valid_siret():
    from sandbox.particulier import is_siret

    assert is_siret(STAGING_RECIPIENT)
    assert is_siret("35600000000001")  # La Poste: digit sum multiple of 5
    assert not is_siret("35600000000002")
