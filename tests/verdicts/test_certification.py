import dataclasses
import datetime as dt

import pytest

from admissions.claims import CertificationDeclared
from admissions.enums import Source, Verdict
from tests.verdicts.conftest import at, found, not_found, rows
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


@pytest.mark.parametrize(
    "change",
    [{"archived": True}, {"code_active": False}, {"archived": None, "code_active": False}],
)
def test_archived_contradicts(change):
    decision = run(dataclasses.replace(RECORD, **change), min_level=5)

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "certification.archived"
    assert rows(decision)["status"]["source"] == "archived"


def test_archived_wins_over_the_level():
    assert run(dataclasses.replace(RECORD, archived=True), min_level=8).reason_code == (
        "certification.archived"
    )


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
    assert rows(run(record, code="999"))["code"]["match"] is False


def test_not_found_is_never_a_false_claim():
    decision = run(None, code="RNCP99999")

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "certification.not_found"
    assert "RNCP99999" in decision.reason
    assert decision.note_codes == ["certification.holding_not_checked"]
    assert decision.valid_until == NOW + dt.timedelta(days=7)
