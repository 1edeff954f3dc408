import dataclasses
import datetime as dt

import pytest

from tests.verdicts.conftest import at, found, not_found, rows
from verifications.claims import CertificationDeclared
from verifications.enums import Source, Verdict
from verifications.providers.base import CertificationRecord
from verifications.verdicts import decide


NOW = at(2025, 11, 20, 10, 0)
RECORD = CertificationRecord(
    certifinfo_id="108536",
    title="Licence professionnelle métiers de l'informatique",
    level=6,
    level_label="Niveau 6",
    archived=False,
    codes=("RNCP30086",),
    code_active=True,
    matched_by="rncp",
    candidates=1,
)


def run(record=RECORD, code="RNCP30086", min_level=None):
    declared = CertificationDeclared(code=code, min_level=min_level)
    result = found(Source.CERTIFINFO, record) if record else not_found(Source.CERTIFINFO)
    return decide(
        "certification", declared=declared, identity=None, result=result, error=None, now=NOW
    )


def test_confirmed_without_a_level_requirement():
    decision = run()

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "certification.confirmed"
    assert decision.reason == "La certification RNCP30086 existe et est active."
    assert decision.diff == [
        {"field": "code", "declared": "RNCP30086", "source": "RNCP30086", "match": True},
        {"field": "status", "declared": "active", "source": "active", "match": True},
    ]
    assert decision.evidence == {
        "certifinfo_id": "108536",
        "niveau_europeen": 6,
        "archived": False,
        "code_active": True,
        "matched_by": "rncp",
        "date_fin_enregistrement": None,
    }
    # Certif Info never says who holds the certification.
    assert decision.note_codes == ["certification.holding_not_checked"]
    assert decision.valid_until == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize("min_level", [1, 5, 6])
def test_confirmed_at_or_above_the_level(min_level):
    decision = run(min_level=min_level)

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "certification.confirmed_level"
    assert rows(decision)["level"] == {
        "field": "level",
        "declared": min_level,
        "source": 6,
        "match": True,
    }


@pytest.mark.parametrize("min_level", [7, 8])
def test_below_the_level_contradicts(min_level):
    decision = run(min_level=min_level)

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "certification.below_level"
    assert decision.reason == (
        f"La certification RNCP30086 est de niveau européen 6, inférieur au niveau requis "
        f"({min_level})."
    )
    assert rows(decision)["level"]["match"] is False


# --- An archived fiche is not a contradiction (docs/VERDICTS.md) ------------------------------

ARCHIVED = [{"archived": True}, {"code_active": False}, {"archived": None, "code_active": False}]


@pytest.mark.parametrize("change", ARCHIVED)
def test_archived_with_an_end_date_confirms_with_a_caveat(change):
    record = dataclasses.replace(RECORD, registration_ended=dt.date(2019, 12, 31), **change)

    decision = run(record)

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "certification.archived"
    assert decision.reason == (
        "La certification RNCP30086 existe ; sa fiche est archivée (fin d'enregistrement : "
        "31/12/2019)."
    )
    assert decision.reason_params["ended"] == "31/12/2019"
    assert decision.note_codes == [
        "certification.holding_not_checked",
        "certification.archived_caveat",
    ]
    assert rows(decision)["status"] == {
        "field": "status",
        "declared": "active",
        "source": "archived",
        "match": False,
    }
    assert decision.evidence["date_fin_enregistrement"] == "2019-12-31"
    assert decision.valid_until == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize("change", ARCHIVED)
def test_archived_without_an_end_date_says_so(change):
    decision = run(dataclasses.replace(RECORD, **change))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "certification.archived"
    assert "certification.archived_end_unknown" in decision.note_codes
    assert "certification.archived_caveat" not in decision.note_codes
    assert "sans date de fin d'enregistrement connue" in " ".join(decision.notes)


@pytest.mark.parametrize("min_level", [5, 6])
def test_archived_meeting_the_level_confirms_with_a_caveat(min_level):
    record = dataclasses.replace(RECORD, archived=True, registration_ended=dt.date(2021, 6, 30))

    decision = run(record, min_level=min_level)

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "certification.archived_level"
    assert decision.reason == (
        f"La certification RNCP30086 existe et son niveau européen (6) atteint le niveau requis "
        f"({min_level}) ; sa fiche est archivée (fin d'enregistrement : 30/06/2021)."
    )
    assert rows(decision)["level"]["match"] is True
    assert "certification.archived_caveat" in decision.note_codes


def test_archived_below_the_level_contradicts_on_the_level():
    decision = run(dataclasses.replace(RECORD, archived=True), min_level=8)

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "certification.below_level"


def test_archived_of_unknown_level_is_for_a_clerk():
    decision = run(dataclasses.replace(RECORD, archived=True, level=None), min_level=5)

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "certification.level_unknown"


def test_an_active_fiche_ignores_its_future_end_of_registration():
    decision = run(dataclasses.replace(RECORD, registration_ended=dt.date(2030, 1, 30)))

    assert decision.reason_code == "certification.confirmed"
    assert decision.evidence["date_fin_enregistrement"] == "2030-01-30"


# --- The code the source lists is an echo: its writing never contradicts ----------------------


@pytest.mark.parametrize(
    ("declared", "listed"),
    [
        ("RNCP030086", ("RNCP30086",)),  # a zero leading the number
        ("RNCP0030086", ("RNCP30086",)),
        ("RNCP30086", ("RNCP030086",)),  # the source pads, the applicant does not
        ("rncp 30086", ("RNCP030086", "RS1")),
        ("RS01234", ("RS1234",)),
    ],
)
@pytest.mark.parametrize("min_level", [None, 6])
def test_a_code_written_otherwise_confirms_with_a_note(declared, listed, min_level):
    decision = run(dataclasses.replace(RECORD, codes=listed), code=declared, min_level=min_level)

    assert decision.verdict == Verdict.CONFIRMED
    assert rows(decision)["code"]["match"] is True
    assert rows(decision)["code"]["source"] in listed
    assert "certification.code_form" in decision.note_codes


@pytest.mark.parametrize("code", ["RNCP30086", " rncp30086 ", "Rncp 30086"])
def test_spaces_and_case_of_the_declared_code_are_no_difference(code):
    decision = run(code=code)

    assert decision.verdict == Verdict.CONFIRMED
    assert rows(decision)["code"]["match"] is True
    assert "certification.code_form" not in decision.note_codes


@pytest.mark.parametrize(
    ("change", "code", "min_level"),
    [
        ({"codes": ("RNCP30087",)}, "RNCP30086", None),
        ({"codes": ("RNCP30087",)}, "RNCP30086", 8),  # even below the level: another fiche
        ({"codes": ("RS30086",)}, "RNCP30086", None),
        ({"codes": ("RNCP30087",), "archived": True}, "RNCP30086", 5),
        ({"matched_by": "id", "certifinfo_id": "108537"}, "108536", None),
    ],
)
def test_another_code_listed_is_a_mismatch(change, code, min_level):
    decision = run(dataclasses.replace(RECORD, **change), code=code, min_level=min_level)

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "certification.code_differs"
    assert rows(decision)["code"]["match"] is False
    assert decision.reason_params["source_code"] == rows(decision)["code"]["source"]
    assert "un agent doit vérifier" in decision.reason


def test_unknown_level_with_a_requirement_is_for_a_clerk():
    decision = run(dataclasses.replace(RECORD, level=None), code="RNCP30086", min_level=5)

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "certification.level_unknown"
    assert rows(decision)["level"] == {
        "field": "level",
        "declared": 5,
        "source": None,
        "match": False,
    }


def test_unknown_level_without_a_requirement_confirms():
    assert run(dataclasses.replace(RECORD, level=None)).verdict == Verdict.CONFIRMED


def test_unknown_status_is_not_archived_but_said():
    decision = run(dataclasses.replace(RECORD, archived=None, code_active=None))

    assert decision.verdict == Verdict.CONFIRMED
    assert "status" not in rows(decision)
    assert "certification.status_unknown" in decision.note_codes


def test_several_candidates_are_said():
    decision = run(dataclasses.replace(RECORD, candidates=3))

    assert "certification.several_candidates" in decision.note_codes


def test_numeric_code_is_compared_with_the_certifinfo_id():
    record = dataclasses.replace(RECORD, matched_by="id")
    assert rows(run(record, code="108536"))["code"] == {
        "field": "code",
        "declared": "108536",
        "source": "108536",
        "match": True,
    }
    assert rows(run(record, code="00108536"))["code"]["match"] is True
    assert rows(run(record, code="999"))["code"]["match"] is False
    assert run(record, code="999").verdict == Verdict.MISMATCH
    # A detail that echoes no id was asked by that id.
    assert rows(run(dataclasses.replace(record, certifinfo_id=None), code="999"))["code"] == {
        "field": "code",
        "declared": "999",
        "source": "999",
        "match": True,
    }


def test_not_found_is_never_a_false_claim():
    decision = run(None, code="RNCP99999")

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "certification.not_found"
    assert "RNCP99999" in decision.reason
    assert decision.note_codes == ["certification.holding_not_checked"]
    assert decision.valid_until == NOW + dt.timedelta(days=7)
