import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.verdicts.conftest import at, found, not_found, rows
from verifications.claims import CvecDeclared
from verifications.enums import Source, Verdict
from verifications.providers.base import CvecRecord, Identity
from verifications.verdicts import decide
from verifications.verdicts.cvec import VALID_STATES, current_campaigns, is_valid_state


NOW = at(2025, 11, 20, 10, 0)
DECLARED = CvecDeclared(code="VER1ABCDEF12AB", campaign=2025)
HOLDER = Identity(
    birth_name="Dupont",
    usage_name="",
    first_names=("Camille",),
    sex="F",
    birth_date=dt.date(2005, 2, 1),
)
# The illustrative 200 of docs/api/cvec.md §Responses, normalised.
RECORD = CvecRecord(
    birth_name="DUPONT",
    usage_name=None,
    first_name="CAMILLE",
    sex="F",
    birth_date=dt.date(2005, 2, 1),
    ine="123456789AB",
    crous="Crous de Lyon",
    state_code="75",
    state_label="Attestation valide, payé",
    exemption_active=False,
)


def run(record=RECORD, identity=HOLDER, declared=DECLARED, now=NOW):
    result = found(Source.CVEC, record) if record else not_found(Source.CVEC, "400", status=400)
    return decide("cvec", declared=declared, identity=identity, result=result, error=None, now=now)


@pytest.mark.parametrize("state", sorted(VALID_STATES))
def test_every_valid_state_confirms(state):
    decision = run(dataclasses.replace(RECORD, state_code=state))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "cvec.confirmed"
    assert decision.evidence["etat.code"] == state


def test_the_state_is_said_in_the_language_rendered_not_in_the_sources_french():
    from verifications.verdicts import render_reason

    decision = run(dataclasses.replace(RECORD, state_code="71", state_label="Valide (bourse)"))

    english = render_reason(decision.reason_code, decision.reason_params, language="en")
    assert "(state 71: Valid attestation, scholarship holder)" in english
    assert "Valide" not in english
    french = render_reason(decision.reason_code, decision.reason_params, language="fr")
    assert "(état 71 : Attestation valide, boursier)" in french


def test_confirmed_details():
    decision = run()

    assert decision.reason == "L'attestation CVEC est valide (état 75 : Attestation valide, payé)."
    assert decision.diff == [
        {"field": "birth_name", "declared": "Dupont", "source": "DUPONT", "match": True},
        {"field": "first_names", "declared": "Camille", "source": "CAMILLE", "match": True},
        {"field": "sex", "declared": "F", "source": "F", "match": True},
        {"field": "birth_date", "declared": "2005-02-01", "source": "2005-02-01", "match": True},
        {"field": "state", "declared": "valid", "source": "75", "match": True},
        {
            "field": "campaign",
            "declared": "2025-2026",
            "source": "2025-2026 / 2026-2027",
            "match": True,
        },
    ]
    assert decision.note_codes == ["cvec.current_campaign"]
    # Until the end of the campaign's academic year.
    assert decision.valid_until == at(2026, 9, 1)
    evidence = json.dumps(decision.evidence)
    for personal in ("DUPONT", "CAMILLE", "2005", "123456789AB", "Lyon"):
        assert personal not in evidence


@pytest.mark.parametrize("state", ["0", "10", "72", "74", "77", "99", "700", "7 5", "abc"])
def test_other_states_contradict(state):
    decision = run(dataclasses.replace(RECORD, state_code=state))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "cvec.invalid_state"
    assert rows(decision)["state"]["match"] is False
    assert decision.valid_until == NOW + dt.timedelta(days=1)


@given(st.one_of(st.integers(-1000, 1000), st.text(max_size=5)))
def test_valid_state_set_is_exact(code):
    assert is_valid_state(code) is (str(code).strip() in {"70", "71", "73", "75", "76", "98"})


@pytest.mark.parametrize("code", [75, " 71 ", "98"])
def test_state_as_number_or_padded(code):
    assert is_valid_state(code)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"birth_date": dt.date(2005, 1, 2)}, "birth_date"),  # day and month swapped
        ({"birth_name": "DUPOND"}, "birth_name"),
        ({"first_name": "CLAUDE"}, "first_names"),
        ({"sex": "M"}, "sex"),
    ],
)
def test_holder_mismatch(change, fields):
    decision = run(dataclasses.replace(RECORD, **change))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "cvec.holder_mismatch"
    assert decision.reason_params == {"fields": fields}
    assert decision.evidence["identity_match"] is False
    assert decision.valid_until == NOW + dt.timedelta(days=30)


def test_holder_mismatch_wins_over_an_invalid_state():
    record = dataclasses.replace(RECORD, birth_date=dt.date(2000, 1, 1), state_code="10")

    assert run(record).verdict == Verdict.MISMATCH


def test_accents_case_and_hyphens_are_not_differences():
    identity = dataclasses.replace(
        HOLDER, birth_name="Dupont-Éluard", first_names=("Camille-Anne",)
    )
    record = dataclasses.replace(RECORD, birth_name="DUPONT ELUARD", first_name="CAMILLE ANNE")

    assert run(record, identity).verdict == Verdict.CONFIRMED


def test_a_partial_identity_compares_what_it_has():
    # The CLI: --nom only, no birth date.
    identity = Identity(birth_name="Dupont", usage_name="", first_names=(), sex="", birth_date=None)

    decision = run(identity=identity)

    assert decision.verdict == Verdict.CONFIRMED
    assert [r["field"] for r in decision.diff] == ["birth_name", "state", "campaign"]
    assert "cvec.birth_date_not_compared" in decision.note_codes
    assert decision.evidence["identity_fields_compared"] == ["birth_name"]


def test_fields_the_source_omits_are_not_compared():
    decision = run(CvecRecord(state_code="70"))

    assert decision.verdict == Verdict.CONFIRMED
    assert [r["field"] for r in decision.diff] == ["state", "campaign"]


@pytest.mark.parametrize(
    ("now", "campaigns"),
    [
        (at(2025, 11, 20, 10), (2025, 2026)),
        (at(2026, 6, 1, 10), (2025, 2026)),
        (at(2026, 8, 31, 23), (2025, 2026)),
        (at(2026, 9, 1, 0, 30), (2026, 2027)),
    ],
)
def test_campaigns_in_progress(now, campaigns):
    assert current_campaigns(now) == campaigns


def test_next_campaign_declared_in_summer_is_in_progress():
    decision = run(declared=CvecDeclared("VER1ABCDEF12AB", 2026), now=at(2026, 7, 10, 10))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.valid_until == at(2027, 9, 1)


def test_old_campaign_is_for_a_clerk():
    decision = run(declared=CvecDeclared("VER1ABCDEF12AB", 2023))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "cvec.campaign_differs"
    assert decision.reason_params == {"current": "2025-2026 / 2026-2027", "declared": "2023-2024"}
    assert rows(decision)["campaign"]["match"] is False


def test_without_declared_campaign_the_one_in_progress_is_assumed():
    decision = run(declared=CvecDeclared("VER1ABCDEF12AB", None))

    assert decision.verdict == Verdict.CONFIRMED
    assert "campaign" not in rows(decision)
    assert decision.valid_until == at(2026, 9, 1)


# --- A campaign the answer echoes: never a contradiction (docs/VERDICTS.md) -------------------


@pytest.mark.parametrize("echoed", ["2025-2026", "2025", "2025/2026", "2025-26", " 2025 "])
def test_the_declared_campaign_echoed_confirms(echoed):
    decision = run(dataclasses.replace(RECORD, campaign=echoed))

    assert decision.verdict == Verdict.CONFIRMED
    assert rows(decision)["campaign"] == {
        "field": "campaign",
        "declared": "2025-2026",
        "source": echoed,
        "match": True,
    }
    assert decision.evidence["campagne"] == echoed
    format_only = echoed != "2025-2026"
    assert ("cvec.campaign_label_format" in decision.note_codes) is format_only


@pytest.mark.parametrize("echoed", ["2024-2025", "2026-2027", "2024", "2026", "campagne ?"])
@pytest.mark.parametrize("state", ["75", "10"])
def test_another_campaign_echoed_is_a_mismatch(echoed, state):
    decision = run(dataclasses.replace(RECORD, campaign=echoed, state_code=state))

    # An invalid state said of another campaign does not contradict the declared one.
    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "cvec.campaign_echo_differs"
    assert decision.reason_params == {"source": echoed, "declared": "2025-2026"}
    assert decision.reason.startswith(f"La source répond pour la campagne {echoed}, et non")
    assert rows(decision)["campaign"] == {
        "field": "campaign",
        "declared": "2025-2026",
        "source": echoed,
        "match": False,
    }
    assert decision.valid_until == NOW + dt.timedelta(days=30)


def test_an_echo_settles_a_campaign_the_api_would_not_call_in_progress():
    # Declared 2023 and echoed "2023": the source answered for that campaign.
    decision = run(
        dataclasses.replace(RECORD, campaign="2023"), declared=CvecDeclared("VER1ABCDEF12AB", 2023)
    )

    assert decision.verdict == Verdict.CONFIRMED
    assert "cvec.campaign_label_format" in decision.note_codes
    assert decision.valid_until == NOW + dt.timedelta(days=1)  # its academic year is over


@pytest.mark.parametrize(("echoed", "verdict"), [("2026", Verdict.CONFIRMED), ("2022", None)])
def test_without_a_declared_campaign_the_echo_is_compared_with_those_in_progress(echoed, verdict):
    decision = run(
        dataclasses.replace(RECORD, campaign=echoed), declared=CvecDeclared("VER1ABCDEF12AB")
    )

    if verdict is None:
        assert decision.verdict == Verdict.MISMATCH
        assert decision.reason_params == {"source": "2022", "declared": "2025-2026 / 2026-2027"}
    else:
        assert decision.verdict == verdict
        assert decision.valid_until == at(2027, 9, 1)


def test_the_declared_campaign_echoed_keeps_an_invalid_state_contradicted():
    decision = run(dataclasses.replace(RECORD, campaign="2025", state_code="10"))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "cvec.invalid_state"


def test_the_holder_comes_before_the_campaign():
    record = dataclasses.replace(RECORD, campaign="2024-2025", sex="M")

    assert run(record).reason_code == "cvec.holder_mismatch"


def test_not_found_is_never_a_false_claim():
    decision = run(record=None)

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "cvec.not_found"
    assert decision.evidence == {"found": False, "error_code": "400"}
    assert decision.valid_until == NOW + dt.timedelta(days=1)


def test_no_state_is_an_unexpected_answer():
    decision = run(dataclasses.replace(RECORD, state_code=None))

    assert decision.verdict == Verdict.UNAVAILABLE
    assert decision.reason_code == "source.unexpected_answer"
    assert decision.reason_params == {"missing": "etat.code"}
    assert decision.valid_until == NOW + dt.timedelta(hours=1)
