import dataclasses
import datetime as dt
import json

import pytest
from django.utils import translation

from admissions.claims import ScolariteDeclared
from admissions.enums import Source, Verdict
from tests.verdicts.conftest import at, found, not_found, rows
from verifications.providers.base import ScolariteRecord
from verifications.verdicts import decide, render_reason


NOW = at(2025, 11, 20, 10, 0)
DECLARED = ScolariteDeclared(uai="0132733A", school_year=2025)

# The v4 staging answer (api-reference.md §2.4), normalised.
RECORD = ScolariteRecord(
    birth_name="MARTIN",
    first_name="EMMA",
    sex="F",
    birth_date=dt.date(2012, 8, 15),
    school_year="2025-2026",
    enrolled=True,
    status_code="ST",
    status_label="Scolaire",
    uai="0132733A",
    establishment_name="Lycée Polyvalent Antonin Artaud",
    scholarship=True,
    scholarship_level=1,
    keys=("annee_scolaire", "est_scolarise", "etablissement", "identite", "statut_eleve"),
)


def run(identity, record=RECORD, declared=DECLARED, now=NOW):
    result = (
        found(Source.API_PARTICULIER, record)
        if record
        else not_found(Source.API_PARTICULIER, "30003")
    )
    return decide(
        "scolarite", declared=declared, identity=identity, result=result, error=None, now=now
    )


def test_confirmed(identity):
    decision = run(identity)

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "scolarite.confirmed"
    assert decision.reason == (
        "L'élève est scolarisé dans l'établissement 0132733A pour l'année scolaire 2025-2026."
    )
    assert decision.diff == [
        {"field": "birth_name", "declared": "Martin", "source": "MARTIN", "match": True},
        {"field": "first_names", "declared": "Emma, Louise", "source": "EMMA", "match": True},
        {"field": "sex", "declared": "F", "source": "F", "match": True},
        {"field": "birth_date", "declared": "2012-08-15", "source": "2012-08-15", "match": True},
        {"field": "enrolled", "declared": True, "source": True, "match": True},
        {"field": "uai", "declared": "0132733A", "source": "0132733A", "match": True},
        {"field": "school_year", "declared": "2025-2026", "source": "2025-2026", "match": True},
    ]
    assert decision.evidence == {
        "est_scolarise": True,
        "code_uai": "0132733A",
        "annee_scolaire": "2025-2026",
        "statut_eleve.code": "ST",
        "identity_match": True,
    }
    assert decision.note_codes == ["scolarite.nightly"]
    # 30 days at most, well before the end of the school year.
    assert decision.valid_until == NOW + dt.timedelta(days=30)


def test_confirmed_holds_until_the_end_of_the_school_year_at_most(identity):
    decision = run(identity, now=at(2026, 8, 20, 12, 0))

    assert decision.valid_until == at(2026, 9, 1)


def test_a_school_year_over_is_history(identity):
    record = dataclasses.replace(RECORD, school_year="2022-2023")
    decision = run(identity, record, ScolariteDeclared(uai="0132733A", school_year=2022))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.valid_until is None


def test_the_usage_name_matches_too(identity):
    decision = run(identity, dataclasses.replace(RECORD, birth_name="DURAND"))

    assert decision.verdict == Verdict.CONFIRMED
    assert rows(decision)["birth_name"] == {
        "field": "birth_name",
        "declared": "Durand",
        "source": "DURAND",
        "match": True,
    }


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"birth_name": "MARTINEZ"}, "birth_name"),
        ({"first_name": "JUSTINE"}, "first_names"),
        ({"sex": "M"}, "sex"),
        ({"birth_date": dt.date(2012, 8, 16)}, "birth_date"),
        ({"birth_name": "MARTINEZ", "birth_date": dt.date(2000, 1, 1)}, "birth_name, birth_date"),
    ],
)
def test_identity_mismatch(identity, change, fields):
    decision = run(identity, dataclasses.replace(RECORD, **change))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "scolarite.identity_mismatch"
    assert decision.reason_params == {"fields": fields}
    assert "scolarite.identity_from_school" in decision.note_codes
    assert decision.evidence["identity_match"] is False
    assert decision.valid_until == NOW + dt.timedelta(days=30)


def test_identity_mismatch_wins_over_a_contradiction(identity):
    record = dataclasses.replace(RECORD, birth_name="AUTRE", enrolled=False)

    assert run(identity, record).verdict == Verdict.MISMATCH


def test_not_enrolled(identity):
    record = dataclasses.replace(
        RECORD, enrolled=False, status_code="NS", status_label="Non scolarisé"
    )

    decision = run(identity, record)

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "scolarite.not_enrolled"
    assert decision.reason == (
        "La source indique que l'élève n'est pas scolarisé pour l'année scolaire 2025-2026 "
        "(statut : Non scolarisé)."
    )
    assert rows(decision)["enrolled"]["match"] is False
    assert decision.evidence["statut_eleve.code"] == "NS"
    # Until after the next nightly refresh.
    assert decision.valid_until == at(2025, 11, 21, 6, 0)


@pytest.mark.parametrize(
    ("now", "refresh"),
    [
        (at(2025, 11, 20, 5, 59), at(2025, 11, 20, 6, 0)),
        (at(2025, 11, 20, 6, 0), at(2025, 11, 21, 6, 0)),
        (at(2025, 10, 25, 23, 0), at(2025, 10, 26, 6, 0)),  # the night summer time ends
        (dt.datetime(2025, 11, 20, 5, 30, tzinfo=dt.UTC), at(2025, 11, 21, 6, 0)),
    ],
)
def test_negative_answers_hold_until_after_the_next_nightly_refresh(identity, now, refresh):
    decision = run(identity, dataclasses.replace(RECORD, enrolled=False), now=now)

    assert decision.valid_until == refresh
    assert decision.valid_until.utcoffset() == refresh.utcoffset()


def test_other_establishment(identity):
    decision = run(identity, dataclasses.replace(RECORD, uai="0210015C"))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "scolarite.other_establishment"
    assert decision.reason_params == {"source_uai": "0210015C", "declared_uai": "0132733A"}
    assert rows(decision)["uai"]["match"] is False


def test_other_school_year(identity):
    decision = run(identity, dataclasses.replace(RECORD, school_year="2024-2025"))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "scolarite.other_year"
    assert "2024-2025" in decision.reason
    assert rows(decision)["school_year"] == {
        "field": "school_year",
        "declared": "2025-2026",
        "source": "2024-2025",
        "match": False,
    }


def test_a_one_year_label_counts_as_its_school_year(identity):
    assert (
        run(identity, dataclasses.replace(RECORD, school_year="2025")).verdict == Verdict.CONFIRMED
    )


def test_not_found_is_never_a_false_claim(identity):
    decision = run(identity, record=None)

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "scolarite.not_found"
    assert "Ce n'est pas la preuve d'une fausse déclaration" in decision.reason
    assert "scolarite.not_covered" in decision.note_codes
    assert decision.evidence == {"found": False, "error_code": "30003"}
    assert decision.diff == []
    assert decision.valid_until == at(2025, 11, 21, 6, 0)


@pytest.mark.parametrize(
    ("now", "private_note"),
    [
        (at(2025, 9, 15, 9, 0), True),
        (at(2025, 10, 31, 23, 0), True),
        (at(2025, 11, 1, 0, 1), False),
    ],
)
def test_private_schools_note_before_october_ends(identity, now, private_note):
    decision = run(identity, record=None, now=now)

    assert ("scolarite.private_before_october" in decision.note_codes) is private_note


def test_next_year_data_are_provisional(identity):
    decision = run(identity, record=None, declared=ScolariteDeclared("0132733A", 2026), now=NOW)

    assert "scolarite.next_year_provisional" in decision.note_codes


@pytest.mark.parametrize(
    ("now", "unreliable"),
    [(at(2025, 9, 30, 12), True), (at(2025, 10, 14, 23), True), (at(2025, 10, 15, 0, 1), False)],
)
def test_non_scholarship_is_unreliable_before_mid_october(identity, now, unreliable):
    decision = run(identity, dataclasses.replace(RECORD, scholarship=False), now=now)

    assert ("scolarite.scholarship_unreliable" in decision.note_codes) is unreliable


@pytest.mark.parametrize("scholarship", [True, None])
def test_scholarship_note_only_for_a_negative(identity, scholarship):
    decision = run(
        identity, dataclasses.replace(RECORD, scholarship=scholarship), now=at(2025, 9, 30)
    )

    assert "scolarite.scholarship_unreliable" not in decision.note_codes


def test_scope_without_scolarite_is_rejected(identity):
    record = ScolariteRecord(birth_name="MARTIN", first_name="EMMA", keys=("identite",))

    decision = run(identity, record)

    assert decision.verdict == Verdict.REJECTED
    assert decision.reason_code == "scolarite.scope_missing"
    assert decision.valid_until is None


def test_masked_fields_are_not_compared(identity):
    # men_statut_scolarite only: no identity, no establishment.
    record = ScolariteRecord(school_year="2025-2026", enrolled=True, status_code="ST")

    decision = run(identity, record)

    assert decision.verdict == Verdict.CONFIRMED
    assert list(rows(decision)) == ["enrolled", "school_year"]
    assert "source.masked_fields" in decision.note_codes


def test_without_identity_only_the_claim_is_compared():
    decision = run(None)

    assert decision.verdict == Verdict.CONFIRMED
    assert list(rows(decision)) == ["enrolled", "uai", "school_year"]


def test_evidence_holds_no_identity(identity):
    for record in (RECORD, dataclasses.replace(RECORD, birth_name="AUTRE"), None):
        evidence = json.dumps(run(identity, record).evidence)
        for value in ("MARTIN", "Martin", "EMMA", "2012"):
            assert value not in evidence


def test_reason_renders_again_in_another_language(identity):
    decision = run(identity)

    with translation.override("en"):
        again = render_reason(decision.reason_code, decision.reason_params, language="fr")

    assert again == decision.reason
