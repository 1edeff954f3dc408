"""The comparison table of a claim card in words: every value a verdict function may put in a
row (``verifications.verdicts.common.row``) as a clerk reads it."""

import pytest
from django.utils import translation

from verifications.templatetags.verifications import diff_label, diff_value


@pytest.mark.parametrize(
    ("value", "field", "shown"),
    [
        ("2008-04-09", "birth_date", "09/04/2008"),
        (True, "enrolled", "oui"),
        (False, "enrolled", "non"),
        (["EMMA", "LOUISE"], "first_names", "EMMA, LOUISE"),
        ("valid", "state", "attestation valide"),
        ("70", "state", "attestation valide (code 70)"),
        ("10", "state", "attestation non valide (code 10)"),
        ("active", "status", "en vigueur"),
        ("archived", "status", "archivée"),
        ("ok", "type", "valide"),
        ("expired", "type", "expirée"),
        ("F", "sex", "Féminin"),
        (None, "uai", "—"),
        ("", "uai", "—"),
        (6, "level", "6"),
        ("2025-2026", "school_year", "2025-2026"),
        ("0890112N", "uai", "0890112N"),
    ],
)
def test_a_compared_value_is_shown_in_words(value, field, shown):
    with translation.override("fr"):
        assert diff_value(value, field) == shown


def test_every_field_a_verdict_compares_has_a_label():
    fields = {
        "birth_name", "first_names", "sex", "birth_date", "enrolled", "uai", "school_year",
        "state", "campaign", "code", "status", "level", "uuid", "type",
    }  # fmt: skip
    with translation.override("fr"):
        assert {f for f in fields if str(diff_label(f)) == f} == set()
