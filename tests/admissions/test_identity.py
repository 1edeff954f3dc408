import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from admissions.identity import clean_identity, split_first_names


VALID = {
    "file_reference": "DOS-2026-001",
    "birth_name": "  Le  Gall ",
    "usage_name": "",
    "first_names": "Marie Davida, Léa",
    "sex": "f",
    "birth_date": "15/08/2007",
    "ine": "123456789ab",
}


def test_clean_identity_normalises():
    cleaned = clean_identity(VALID)
    assert cleaned["birth_name"] == "Le Gall"
    assert cleaned["first_names"] == ["Marie Davida", "Léa"]
    assert cleaned["sex"] == "F"
    assert cleaned["birth_date"] == dt.date(2007, 8, 15)
    assert cleaned["ine"] == "123456789AB"


def test_first_names_split_on_commas_only():
    """A given name may contain a space or a hyphen; only commas separate names."""
    assert split_first_names("Pierre,Richard") == ["Pierre", "Richard"]
    assert split_first_names("Marie Davida") == ["Marie Davida"]
    assert split_first_names(["Jean-Baptiste", " ", "Luc"]) == ["Jean-Baptiste", "Luc"]


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("birth_name", "", "obligatoire"),
        ("birth_name", "Martin2", "lettres"),
        ("first_names", "", "au moins un prénom"),
        ("first_names", "A, B, C, D", "au plus 3"),
        ("sex", "X", "« F » ou « M »"),
        ("birth_date", "30 février 2007", "JJ/MM/AAAA"),
        # Written right, but no such day: named as such, not as a format error.
        ("birth_date", "2007-02-30", "2007-02-30 n'existe pas"),
        ("birth_date", "31/02/2006", "31/02/2006 n'existe pas"),
        ("birth_date", "01/01/1850", "pas plausible"),
        ("ine", "12345", "11 chiffres ou lettres"),
        ("email", "pas-une-adresse", "adresse électronique"),
        ("file_reference", "a b", "référence"),
    ],
)
def test_each_bad_field_has_its_message(field, value, fragment):
    with pytest.raises(ValidationError) as exc:
        clean_identity({**VALID, field: value})
    messages = exc.value.message_dict
    assert list(messages) == [field]
    assert fragment in messages[field][0]


def test_partial_checks_only_given_fields():
    assert clean_identity({"usage_name": "Dupont"}, partial=True) == {"usage_name": "Dupont"}


def test_future_birth_date_refused():
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    with pytest.raises(ValidationError):
        clean_identity({**VALID, "birth_date": tomorrow.isoformat()})
