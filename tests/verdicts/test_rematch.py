"""The variants offered after a "not found" (verifications.rematch): which, in what order, and
what a variant's answer means for the claim as recorded. Pure functions, no database."""

import datetime as dt

import pytest

from verifications import rematch
from verifications.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    ScolariteDeclared,
)
from verifications.enums import ClaimKind, Verdict
from verifications.providers.base import Identity
from verifications.rematch import Variant
from verifications.verdicts.common import decision, row


NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
SCOLARITE = ScolariteDeclared(uai="0132733A", school_year=2026)


def identity(**fields) -> Identity:
    values = {
        "birth_name": "MARTIN",
        "usage_name": "",
        "first_names": ("EMMA",),
        "sex": "F",
        "birth_date": dt.date(2008, 8, 15),
    }
    return Identity(**(values | fields))


def keys(kind, who, declared=SCOLARITE) -> list[str]:
    return [v.key for v in rematch.variants_for(kind, who, declared)]


def test_a_plain_identity_has_no_variant_worth_trying():
    # Capitals without accents, one simple name, a day above 12: nothing is written otherwise.
    assert keys(ClaimKind.SCOLARITE, identity()) == []


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        # accents and case folded differently
        (identity(birth_name="Lefèvre", first_names=("Zoé",)), ["ascii"]),
        # birth name vs usage name
        (identity(usage_name="DURAND"), ["usage_name"]),
        # compound surname: each part, and the other way of joining them; particles alone never
        (
            identity(birth_name="MARTIN DUPONT"),
            ["birth_name_part_1", "birth_name_part_2", "birth_name_joined"],
        ),
        (identity(birth_name="DA SILVA"), ["birth_name_part_2", "birth_name_joined"]),
        (identity(birth_name="SAINT-MARTIN"), ["birth_name_part_2", "birth_name_joined"]),
        # second given name first
        (identity(first_names=("EMMA", "LOUISE")), ["first_names_swapped"]),
        # hyphenated vs spaced given names
        (identity(first_names=("MARIE-ANNE",)), ["first_name_joined"]),
        (identity(first_names=("MARIE DAVIDA",)), ["first_name_joined"]),
        # day and month swapped when both are 12 or less (and differ)
        (identity(birth_date=dt.date(2008, 4, 9)), ["day_month_swapped"]),
        (identity(birth_date=dt.date(2008, 4, 4)), []),
        (identity(birth_date=dt.date(2008, 4, 13)), []),
    ],
)
def test_scolarite_variants(who, expected):
    assert keys(ClaimKind.SCOLARITE, who) == expected


def test_each_scolarite_variant_asks_another_question_than_the_record_and_the_others():
    who = identity(
        birth_name="Le Gall",
        usage_name="LE GALL",  # the same name: no usage-name variant
        first_names=("Marie-Anne", "Lou"),
        birth_date=dt.date(2007, 3, 5),
    )
    variants = rematch.variants_for(ClaimKind.SCOLARITE, who, SCOLARITE)
    assert [v.key for v in variants] == [
        "ascii",
        "birth_name_part_2",
        "birth_name_joined",
        "first_names_swapped",
        "first_name_joined",
        "day_month_swapped",
    ]
    by_key = {v.key: v for v in variants}
    assert by_key["ascii"].changes == {
        "birth_name": "LE GALL",
        "first_names": ["MARIE-ANNE", "LOU"],
    }
    assert by_key["birth_name_part_2"].changes == {"birth_name": "Gall"}
    assert by_key["birth_name_joined"].changes == {"birth_name": "Le-Gall"}
    assert by_key["first_names_swapped"].changes == {"first_names": ["Lou", "Marie-Anne"]}
    assert by_key["first_name_joined"].changes == {"first_names": ["Marie Anne", "Lou"]}
    assert by_key["day_month_swapped"].changes == {"birth_date": "2007-05-03"}
    asked = {rematch.apply_identity(who, v) for v in variants}
    assert len(asked) == len(variants)
    assert who not in asked


def test_cvec_variants_change_the_five_letters_sent_and_nothing_else():
    who = identity(birth_name="MARTIN DUPONT", usage_name="Durand", first_names=("Zoé", "Lou"))
    declared = CvecDeclared(code="VER1AAAAAA00SB", campaign=2026)
    # "MARTI" is asked now; DURAN, DUPON are other questions; MARTIN alone and MARTIN-DUPONT
    # send "MARTI" again, given names and accents are not sent at all.
    assert keys(ClaimKind.CVEC, who, declared) == ["usage_name", "birth_name_part_2"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("12345", {"code_rncp": "RNCP12345", "code_rs": "RS12345"}),
        ("RNCP34031", {"code_rs": "RS34031"}),
        ("RS5487", {"code_rncp": "RNCP5487"}),
        ("RNCP034031", {"code_rs": "RS34031", "code_rncp": "RNCP34031"}),
    ],
)
def test_certification_variants_read_the_code_in_another_form(code, expected):
    variants = rematch.variants_for(
        ClaimKind.CERTIFICATION, identity(), CertificationDeclared(code=code, min_level=5)
    )
    assert {v.key: v.changes["code"] for v in variants} == expected
    for variant in variants:
        declared = rematch.apply_declared(CertificationDeclared(code=code), variant)
        assert declared.code == variant.changes["code"]


def test_covoiturage_has_no_variant():
    declared = CovoiturageDeclared(uuid="9415300a-7a51-4296-96d1-68636e46485d")
    assert keys(ClaimKind.COVOITURAGE, identity(first_names=("A", "B")), declared) == []


def test_a_variant_round_trips_through_json_with_the_record_it_varies():
    variant = Variant("day_month_swapped", {"birth_date": "2008-09-04"}, record="abc")
    assert Variant.from_json(variant.as_json()) == variant
    assert Variant("x").as_json() == {"key": "x", "changes": {}}


def test_format_only_variants_are_told_from_substantive_ones():
    who = identity(birth_name="Lefèvre", first_names=("Zoé", "Lou"))
    assert rematch.format_only(who, Variant("ascii", {"birth_name": "LEFEVRE"}))
    assert rematch.format_only(who, Variant("j", {"first_names": ["ZOE", "LOU"]}))
    assert not rematch.format_only(who, Variant("s", {"first_names": ["Lou", "Zoé"]}))
    assert not rematch.format_only(who, Variant("d", {"birth_date": "2008-09-04"}))
    assert not rematch.format_only(who, Variant("c", {"code": "RNCP1"}))


def confirmed():
    return decision(
        Verdict.CONFIRMED,
        "scolarite.confirmed",
        params={"uai": "0132733A", "school_year": "2026-2027"},
        diff=[row("birth_date", "2008-09-04", "2008-09-04", True)],
        notes=["scolarite.nightly"],
        evidence={"est_scolarise": True},
        valid_until=NOW + dt.timedelta(days=30),
    )


def test_a_found_variant_that_changes_the_identity_is_a_mismatch_for_the_record():
    who = identity(birth_date=dt.date(2008, 4, 9))
    variant = Variant("day_month_swapped", {"birth_date": "2008-09-04"})
    result = rematch.claim_decision(confirmed(), variant, identity=who, declared=SCOLARITE, now=NOW)
    assert result.verdict == Verdict.MISMATCH
    assert result.reason_code == rematch.FOUND_WITH_VARIANT
    assert result.reason_params["source_verdict"] == "confirmed"
    assert "jour et le mois de naissance inversés" in result.reason
    assert "Confirmé" in result.reason
    assert result.evidence["variant"] == "day_month_swapped"
    assert "variant.correct_record" in result.note_codes
    # The source's own rows stay; the record's value is where the variant changed it.
    assert result.diff == [row("birth_date", "2008-09-04", "2008-09-04", True)]
    contradicted = decision(Verdict.CONTRADICTED, "scolarite.not_enrolled", diff=[])
    result = rematch.claim_decision(
        contradicted, variant, identity=who, declared=SCOLARITE, now=NOW
    )
    assert result.verdict == Verdict.MISMATCH  # not about the applicant until a person looks
    assert result.diff == [row("birth_date", dt.date(2008, 4, 9), "2008-09-04", False)]


def test_a_found_variant_written_differently_stands_as_the_sources_answer():
    who = identity(birth_name="Lefèvre")
    variant = Variant("ascii", {"birth_name": "LEFEVRE", "first_names": ["EMMA"]})
    result = rematch.claim_decision(confirmed(), variant, identity=who, declared=SCOLARITE, now=NOW)
    assert result.verdict == Verdict.CONFIRMED
    assert result.reason_code == "scolarite.confirmed"
    assert result.note_codes == ["scolarite.nightly", "variant.format_only"]
    assert result.valid_until == confirmed().valid_until


@pytest.mark.parametrize("verdict", [Verdict.NOT_FOUND, Verdict.UNAVAILABLE, Verdict.REJECTED])
def test_a_variant_the_source_does_not_find_either_says_nothing_new(verdict):
    answer = decision(verdict, "scolarite.not_found")
    variant = Variant("day_month_swapped", {"birth_date": "2008-09-04"})
    result = rematch.claim_decision(
        answer, variant, identity=identity(), declared=SCOLARITE, now=NOW
    )
    assert (result.verdict, result.reason_code) == (verdict, "scolarite.not_found")
    assert not rematch.found(result)
