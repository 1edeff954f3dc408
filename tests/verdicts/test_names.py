import string
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from verifications.names import first_name_matches, fold_name, fold_to_ascii, names_match


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dupré", "dupre"),
        ("  DUPRÉ  ", "dupre"),
        ("Marc-Antoine", "marc antoine"),
        ("MARC ANTOINE", "marc antoine"),
        ("Marc–Antoine", "marc antoine"),  # en dash
        ("N’Diaye", "ndiaye"),
        ("N'DIAYE", "ndiaye"),
        ("N\u02bcDiaye", "ndiaye"),  # modifier letter apostrophe
        ("d'Artagnan", "dartagnan"),
        ("Lily-Rose,  Clara", "lily rose clara"),
        ("Œuvrard", "oeuvrard"),
        ("Groß", "gross"),
        ("Ødegaard", "odegaard"),
        ("İlkay", "ilkay"),
        ("Jean\u00a0Pierre", "jean pierre"),
        ("Ange_Marie", "ange marie"),
        ("", ""),
        ("  -' ", ""),
    ],
)
def test_fold_name(value, expected):
    assert fold_name(value) == expected


@given(st.text())
@example("İ")
@example("ﬀ")
@example("ǅ")
def test_fold_name_is_idempotent(value):
    once = fold_name(value)
    assert fold_name(once) == once


@given(st.text())
def test_folded_names_have_single_inner_spaces(value):
    result = fold_name(value)
    assert result == result.strip()
    assert "  " not in result
    assert result == result.casefold()
    assert not any(unicodedata.combining(c) for c in result)


FRENCH = string.ascii_letters + "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ -'’"
french_names = st.text(alphabet=FRENCH, max_size=40)


@given(french_names)
def test_case_accents_and_separators_do_not_matter(value):
    expected = fold_name(value)
    assert fold_name(value.upper()) == expected
    assert fold_name(value.lower()) == expected
    assert fold_name(fold_to_ascii(value)) == expected
    assert fold_name(value.replace("-", " ")) == expected
    assert fold_name(value.replace("’", "'")) == expected
    assert set(expected) <= set(string.ascii_lowercase + " ")


@pytest.mark.parametrize(
    ("declared", "source", "expected"),
    [
        (["Le Gall"], "LEGALL", True),
        (["Dupré"], "DUPRE", True),
        (["N’Diaye"], "NDIAYE", True),
        (["Martin", "Durand"], "DURAND", True),  # the usage name
        (["Martin", ""], "DURAND", False),
        (["Martin"], "", False),
        (["Martin"], None, False),
        (["Martin-Durand"], "MARTIN", False),
    ],
)
def test_names_match(declared, source, expected):
    assert names_match(declared, source) is expected


@pytest.mark.parametrize(
    ("declared", "source", "expected"),
    [
        (("Emma",), "EMMA", True),
        (("Émilie",), "EMILIE", True),
        (("Jean-Pierre",), "JEAN PIERRE", True),
        (("Jean-Pierre", "Paul"), "JEAN-PIERRE", True),
        (("Jean-Pierre", "Paul"), "Jean-Pierre Paul", True),
        (("Marie Davida",), "MARIE DAVIDA", True),
        (("Camille",), "CAMILLE MARIE", True),  # the source lists more given names
        (("Camille", "Marie", "Louise"), "CAMILLE MARIE", True),  # ...or fewer
        (("Jean-Pierre",), "JEAN", False),  # not the whole first given name
        (("Camille", "Marie"), "CAMILLE LOUISE", False),
        (("Marie",), "ANNE MARIE", False),  # order matters
        (("Emma",), "", False),
        ((), "EMMA", False),
        (("Emma",), None, False),
    ],
)
def test_first_name_matches(declared, source, expected):
    assert first_name_matches(declared, source) is expected
