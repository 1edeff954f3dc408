"""Comparing people's names across sources.

Sources spell the same civil-status name differently: "Dupré" / "DUPRE", "Marc-Antoine" /
"MARC ANTOINE", "N’Diaye" / "N'DIAYE" / "NDIAYE"... :func:`fold_name` gives the form two
spellings of one name share (case, accents, ligatures, hyphens, apostrophes, spaces and other
punctuation ignored); the ``*_matches`` functions say whether a source's name is the declared one.

This is for *comparison* only; ``admissions.identity.tidy_name`` keeps names as typed for
display and storage. Pure functions, no Django.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence


# Letters NFKD does not decompose into a base letter and marks.
_LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ẞ": "SS",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "\u0131": "i",  # dotless i
    }
)
# Apostrophes are dropped, not turned into spaces: "N'Diaye" and "NDIAYE" are one name, as are
# "D'Artagnan" and "DARTAGNAN"; everything else that is not a letter or digit separates words.
# Straight, typographic and modifier apostrophes, grave and acute accents, left quote (escaped:
# ruff rightly flags these look-alikes in source text).
_APOSTROPHES = re.compile("['\u2019\u02bc`\u00b4\u2018]")
_SEPARATORS = re.compile(r"[\W_]+")


def fold_to_ascii(value: str) -> str:
    """Remove accents and spell ligatures out (é -> e, Œ -> OE); case is kept."""
    decomposed = unicodedata.normalize("NFKD", str(value or "").translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LIGATURES)


def fold_name(value: str) -> str:
    """The comparison form of a name: lower case, no accents, apostrophes removed, words
    separated by single spaces.

    >>> fold_name("  Lily-Rose  D’Arc ")
    'lily rose darc'
    """
    text = str(value or "")
    # Casefold and fold until stable: a few characters only settle after two rounds
    # ("İ" casefolds to "i" + a combining dot, which folding then removes).
    for _ in range(3):
        folded = fold_to_ascii(text.casefold()).casefold()
        if folded == text:
            break
        text = folded
    text = _APOSTROPHES.sub("", text)
    return " ".join(_SEPARATORS.sub(" ", text).split())


def names_match(declared: Iterable[str], source: str | None) -> bool:
    """Whether ``source`` is one of the ``declared`` names (e.g. birth name or usage name),
    spaces ignored too: "LE GALL" and "Legall" match."""
    if not source:
        return False
    wanted = _compact(source)
    return bool(wanted) and any(_compact(name) == wanted for name in declared if name)


def first_name_matches(declared: Sequence[str], source: str | None) -> bool:
    """Whether a source's given name(s) fit the declared ones, in civil-status order.

    Sources give the first given name only, or several in one string, sometimes more than the
    applicant declared ("CAMILLE MARIE" for "Camille"), sometimes fewer. They match when one list
    of words is the start of the other and the source has at least the whole first given name:
    "JEAN PIERRE" fits "Jean-Pierre" and "Jean-Pierre, Paul"; "JEAN" does not fit "Jean-Pierre",
    nor "CAMILLE LOUISE" "Camille, Marie".
    """
    if not source:
        return False
    got = fold_name(source).split()
    names = [fold_name(name).split() for name in declared]
    names = [words for words in names if words]
    if not got or not names:
        return False
    wanted = [word for words in names for word in words]
    shorter = min(len(got), len(wanted))
    return got[:shorter] == wanted[:shorter] and len(got) >= len(names[0])


def _compact(value: str) -> str:
    return fold_name(value).replace(" ", "")
