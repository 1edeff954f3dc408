import dataclasses
import datetime as dt
import json

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verdicts.conftest import at, found, not_found, rows
from verifications.claims import ScolariteDeclared
from verifications.enums import Source, Verdict
from verifications.providers.base import Identity, ScolariteRecord
from verifications.verdicts import decide, render_reason


NOW = at(2025, 11, 20, 10, 0)
DECLARED = ScolariteDeclared(uai="0132733A", school_year=2025)

# The v4 staging answer (docs/api/api-particulier.md §Responses), normalised.
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


# --- Echoes of the question: never a contradiction (docs/VERDICTS.md) -------------------------


@pytest.mark.parametrize(
    "uai",
    [
        "0210015C",  # staging's Martin Justine: asked 0890003V, answered 0210015C
        "0132733B",
        "",  # an empty echo
    ],
)
def test_another_uai_echoed_is_a_mismatch(identity, uai):
    decision = run(identity, dataclasses.replace(RECORD, uai=uai))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "scolarite.other_establishment"
    assert decision.reason_params == {"source_uai": uai, "declared_uai": "0132733A"}
    assert "Un agent doit vérifier" in decision.reason
    assert rows(decision)["uai"] == {
        "field": "uai",
        "declared": "0132733A",
        "source": uai,
        "match": False,
    }
    assert decision.valid_until == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize("uai", ["0132733a", " 0132733A ", "0132 733A"])
def test_the_same_uai_written_otherwise_confirms(identity, uai):
    decision = run(identity, dataclasses.replace(RECORD, uai=uai))

    assert decision.verdict == Verdict.CONFIRMED
    assert rows(decision)["uai"]["match"] is True


def test_another_uai_echoed_for_a_staging_answer():
    # The v3 example of docs/api/api-particulier.md §Responses, asked for 0890003V in 2022
    # (docs/VERDICTS.md).
    justine = Identity(
        birth_name="Martin",
        usage_name="",
        first_names=("Justine",),
        sex="F",
        birth_date=dt.date(2000, 1, 20),
    )
    record = dataclasses.replace(
        RECORD,
        birth_name="Martin",
        first_name="Justine",
        birth_date=dt.date(2000, 1, 20),
        school_year="2022-2023",
        uai="0210015C",
    )

    decision = run(justine, record, ScolariteDeclared(uai="0890003V", school_year=2022))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason == (
        "La source indique que l'élève est scolarisé, mais sa réponse porte le code "
        "d'établissement 0210015C et non celui déclaré (0890003V) : il peut s'agir d'un site "
        "annexe ou d'une erreur de la source. Un agent doit vérifier."
    )


@pytest.mark.parametrize(
    "label",
    [
        "2024-2025",  # staging's Garcia Mateo, asked anneeScolaire=2025
        "2026-2027",
        "2024",
        "2026",
        "2025-2027",
        "année 2025",
        "",
    ],
)
def test_another_year_label_echoed_is_a_mismatch(identity, label):
    decision = run(identity, dataclasses.replace(RECORD, school_year=label))

    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "scolarite.other_year"
    assert decision.reason_params == {"source_year": label, "declared_year": "2025-2026"}
    assert rows(decision)["school_year"] == {
        "field": "school_year",
        "declared": "2025-2026",
        "source": label,
        "match": False,
    }
    assert decision.valid_until == NOW + dt.timedelta(days=30)


def test_the_garcia_mateo_label_reads_clearly(identity):
    decision = run(identity, dataclasses.replace(RECORD, school_year="2024-2025"))

    assert decision.reason == (
        "La source indique que l'élève est scolarisé, mais sa réponse porte l'année scolaire "
        "2024-2025 et non l'année déclarée (2025-2026) : il peut s'agir d'une erreur de libellé "
        "de la source. Un agent doit vérifier."
    )


@pytest.mark.parametrize("label", ["2025", " 2025 ", "2025/2026", "2025-26", "2025 - 2026"])
def test_the_same_year_written_otherwise_confirms_with_a_note(identity, label):
    decision = run(identity, dataclasses.replace(RECORD, school_year=label))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "scolarite.confirmed"
    # The reason names the year declared, which is the year the source answered for.
    assert decision.reason_params["school_year"] == "2025-2026"
    assert rows(decision)["school_year"]["match"] is True
    assert "scolarite.year_label_format" in decision.note_codes


def test_the_canonical_label_has_no_format_note(identity):
    assert "scolarite.year_label_format" not in run(identity).note_codes


def test_the_uai_is_reported_before_the_year(identity):
    decision = run(identity, dataclasses.replace(RECORD, uai="0210015C", school_year="2024-2025"))

    assert decision.reason_code == "scolarite.other_establishment"
    assert rows(decision)["uai"]["match"] is False
    assert rows(decision)["school_year"]["match"] is False


@pytest.mark.parametrize(
    "change", [{"uai": "0210015C"}, {"school_year": "2024-2025"}, {"school_year": "2025"}]
)
def test_not_enrolled_stays_contradicted_whatever_the_echo(identity, change):
    record = dataclasses.replace(RECORD, enrolled=False, **change)

    decision = run(identity, record)

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "scolarite.not_enrolled"


_LABELS = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(1990, 2040).map(str),
    st.integers(1990, 2040).map(lambda y: f"{y}-{y + 1}"),
    st.tuples(st.integers(1990, 2040), st.integers(1990, 2040)).map(lambda t: f"{t[0]}-{t[1]}"),
)
_UAIS = st.one_of(st.none(), st.from_regex(r"\A\d{7}[A-Z]\Z"), st.text(max_size=10))
_NAMES = st.one_of(st.none(), st.sampled_from(["MARTIN", "DURAND", "AUTRE", ""]))
_DATES = st.one_of(st.none(), st.dates(dt.date(1995, 1, 1), dt.date(2015, 12, 31)))


@settings(max_examples=300, deadline=None)
@given(
    label=_LABELS,
    uai=_UAIS,
    birth_name=_NAMES,
    first_name=st.one_of(st.none(), st.sampled_from(["EMMA", "JUSTINE", "Emma Louise", ""])),
    sex=st.one_of(st.none(), st.sampled_from(["F", "M", "X", ""])),
    birth_date=_DATES,
    declared_year=st.integers(2015, 2030),
    declared_uai=st.from_regex(r"\A\d{7}[A-Z]\Z"),
    with_identity=st.booleans(),
    status=st.one_of(st.none(), st.sampled_from(["ST", "AP", "NS", "NC"])),
)
def test_an_enrolled_pupil_is_never_contradicted(
    label,
    uai,
    birth_name,
    first_name,
    sex,
    birth_date,
    declared_year,
    declared_uai,
    with_identity,
    status,
):
    record = ScolariteRecord(
        birth_name=birth_name,
        first_name=first_name,
        sex=sex,
        birth_date=birth_date,
        school_year=label,
        enrolled=True,
        status_code=status,
        uai=uai,
    )
    identity = (
        Identity(
            birth_name="Martin",
            usage_name="Durand",
            first_names=("Emma", "Louise"),
            sex="F",
            birth_date=dt.date(2012, 8, 15),
        )
        if with_identity
        else None
    )

    decision = run(identity, record, ScolariteDeclared(uai=declared_uai, school_year=declared_year))

    assert decision.verdict != Verdict.CONTRADICTED
    assert decision.verdict in {Verdict.CONFIRMED, Verdict.MISMATCH}
    if decision.verdict == Verdict.MISMATCH:
        assert [r for r in decision.diff if not r["match"]]  # the row is in the diff


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
