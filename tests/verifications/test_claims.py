import pytest
from django.core.exceptions import ValidationError

from verifications.claims import ScolariteDeclared, clean_declared, declared_as
from verifications.enums import ClaimKind


def test_scolarite_is_normalised():
    cleaned = clean_declared(ClaimKind.SCOLARITE, {"uai": "0132733a ", "school_year": "2025-2026"})
    assert cleaned == {"uai": "0132733A", "school_year": 2025}
    assert declared_as(ClaimKind.SCOLARITE, cleaned) == ScolariteDeclared("0132733A", 2025)


def test_errors_are_keyed_by_field():
    """Each bad field gets its own French message, so forms show them next to the fields."""
    with pytest.raises(ValidationError) as exc:
        clean_declared(ClaimKind.SCOLARITE, {"uai": "0210015D", "school_year": ""})
    errors = exc.value.message_dict
    assert "lettre de contrôle" in errors["uai"][0]
    assert errors["school_year"] == ["Ce champ est obligatoire."]


def test_cvec():
    assert clean_declared(ClaimKind.CVEC, {"code": "ver1 abcdef 12/ab", "campaign": "2025"}) == {
        "code": "VER1ABCDEF12AB",
        "campaign": 2025,
    }
    assert clean_declared(ClaimKind.CVEC, {"code": "VER1ABCDEF12AB"})["campaign"] is None


def test_certification_level_range():
    assert clean_declared(ClaimKind.CERTIFICATION, {"code": "rncp35185", "min_level": "5"}) == {
        "code": "RNCP35185",
        "min_level": 5,
    }
    with pytest.raises(ValidationError) as exc:
        clean_declared(ClaimKind.CERTIFICATION, {"code": "RNCP35185", "min_level": "9"})
    assert "entre 1 et 8" in exc.value.message_dict["min_level"][0]


def test_covoiturage_uuid_is_lower_cased():
    cleaned = clean_declared(
        ClaimKind.COVOITURAGE, {"uuid": "9415300A-7A51-4296-96D1-68636E46485D"}
    )
    assert cleaned == {"uuid": "9415300a-7a51-4296-96d1-68636e46485d"}
    with pytest.raises(ValidationError) as exc:
        clean_declared(ClaimKind.COVOITURAGE, {"uuid": "pas-un-uuid"})
    assert "UUID" in exc.value.message_dict["uuid"][0]


def test_unexpected_fields_are_refused():
    with pytest.raises(ValidationError) as exc:
        clean_declared(
            ClaimKind.COVOITURAGE, {"uuid": "9415300a-7a51-4296-96d1-68636e46485d", "x": 1}
        )
    assert "x" in exc.value.message_dict["__all__"][0]


def test_unknown_kind():
    with pytest.raises(ValidationError):
        clean_declared("permis", {})
