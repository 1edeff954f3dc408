import pytest
from django.core.exceptions import ValidationError

from admissions import validators
from tests.factories import make_siret


@pytest.mark.parametrize("uai", ["0210015C", "0890003V", "0132733A", "0861288H", "0313124C"])
def test_valid_uai(uai):
    """A UAI whose letter is its 7 digits modulo 23 in ABCDEFGHJKLMNPRSTUVWXYZ is accepted."""
    validators.validate_uai(uai)


def test_uai_with_wrong_check_letter_names_the_expected_letter():
    """0210015D fails, and the message says the letter should be C."""
    with pytest.raises(ValidationError) as exc:
        validators.validate_uai("0210015D")
    assert exc.value.code == "uai_check_letter"
    assert "« C »" in str(exc.value.messages[0])


@pytest.mark.parametrize("uai", ["", "021001C", "02100155C", "021001XC", "0210015", "0210015c"])
def test_malformed_uai(uai):
    """Anything but 7 digits and an upper-case letter is refused (forms normalise case first)."""
    with pytest.raises(ValidationError) as exc:
        validators.validate_uai(uai)
    assert exc.value.code == "uai_format"


def test_uai_normalisation_then_validation():
    validators.validate_uai(validators.normalize_uai(" 0132 733a "))


def test_check_letter_alphabet_skips_i_o_q():
    assert [validators.uai_check_letter(f"{n:07d}") for n in range(23)] == list(
        "ABCDEFGHJKLMNPRSTUVWXYZ"
    )


@pytest.mark.parametrize("siret", ["13002526500013", "73282932000074", make_siret(42)])
def test_valid_siret(siret):
    validators.validate_siret(siret)


@pytest.mark.parametrize("siret", ["13002526500012", "73282932000075"])
def test_siret_failing_luhn(siret):
    with pytest.raises(ValidationError) as exc:
        validators.validate_siret(siret)
    assert exc.value.code == "siret_checksum"


@pytest.mark.parametrize("siret", ["1300252650001", "130025265000133", "1300252650001A", ""])
def test_siret_format(siret):
    with pytest.raises(ValidationError) as exc:
        validators.validate_siret(siret)
    assert exc.value.code == "siret_format"


def test_la_poste_sirets_use_the_sum_of_digits_rule():
    """La Poste's establishments (SIREN 356000000) are checked by their digit sum, not Luhn."""
    candidates = [f"35600000{n:06d}" for n in range(2000)]
    sum_only = next(
        s for s in candidates if sum(map(int, s)) % 5 == 0 and not validators.luhn_is_valid(s)
    )
    luhn_only = next(s for s in candidates if sum(map(int, s)) % 5 and validators.luhn_is_valid(s))
    validators.validate_siret(sum_only)
    with pytest.raises(ValidationError):
        validators.validate_siret(luhn_only)


@pytest.mark.parametrize("ine", ["1234567891A", "123456789AB", "ABCDEFGHIJK"])
def test_valid_ine(ine):
    validators.validate_ine(ine)


@pytest.mark.parametrize("ine", ["1234567891", "1234567891AB", "1234567891-", "1234567891a"])
def test_invalid_ine(ine):
    with pytest.raises(ValidationError) as exc:
        validators.validate_ine(ine)
    assert exc.value.code == "ine_format"


@pytest.mark.parametrize("code", ["RNCP12345", "RNCP1", "RS1234", "RS5487", "90001"])
def test_valid_certification_codes(code):
    validators.validate_certification_code(code)


@pytest.mark.parametrize("code", ["RNCP", "RNC12345", "RS", "RS12A", "RNCP1234567", "ABC"])
def test_invalid_certification_codes(code):
    with pytest.raises(ValidationError):
        validators.validate_certification_code(code)


def test_covoiturage_uuid():
    validators.validate_covoiturage_uuid("9415300a-7a51-4296-96d1-68636e46485d")
    for bad in ["9415300a7a51429696d168636e46485d", "9415300a-7a51-4296-96d1", "not-a-uuid"]:
        with pytest.raises(ValidationError):
            validators.validate_covoiturage_uuid(bad)


@pytest.mark.parametrize(("value", "year"), [("2025", 2025), ("2025-2026", 2025), (" 2022 ", 2022)])
def test_school_year(value, year):
    assert validators.parse_school_year(value) == year


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2025-2027", "school_year_span"),
        ("25", "school_year_format"),
        ("2025/2026", "school_year_format"),
        ("1850", "school_year_range"),
    ],
)
def test_invalid_school_year(value, code):
    with pytest.raises(ValidationError) as exc:
        validators.parse_school_year(value)
    assert exc.value.code == code


def test_cvec_code():
    validators.validate_cvec_code(validators.normalize_cvec_code("VER1 ABCDEF 12 / AB"))
    with pytest.raises(ValidationError):
        validators.validate_cvec_code("VER1")
