"""Validators of the identifiers applicants and institutions declare.

Each ``normalize_*`` function turns what a clerk typed into the canonical form (upper case, no
spaces); each ``validate_*`` function raises a ``ValidationError`` with a French message that
says what is wrong. Forms normalise first, then validate.
"""

import re
import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


# UAI (Unité administrative immatriculée): 7 characters, then a check letter. The 7 characters
# read as a number, modulo 23, index this alphabet (no I, O, Q).
UAI_CHECK_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"
# Digits are ASCII digits (re.ASCII): "\d" alone also matches other scripts' ("١٢٣٤٥٦٧").
_UAI_RE = re.compile(r"^(\d{7})([A-Z])$", re.ASCII)
_INE_RE = re.compile(r"^[0-9A-Z]{11}$")
_RNCP_RE = re.compile(r"^RNCP\d{1,6}$", re.ASCII)
_RS_RE = re.compile(r"^RS\d{1,6}$", re.ASCII)
_CERTIFINFO_ID_RE = re.compile(r"^\d{1,7}$", re.ASCII)
_SCHOOL_YEAR_RE = re.compile(r"^(\d{4})(?:-(\d{4}))?$", re.ASCII)
_SIRET_RE = re.compile(r"^[0-9]{14}$")
# The CVEC attestation number's official format is not documented (docs/api/cvec.md §Endpoint): a
# public client reads "VER1 ABCDEF 12 / AB" on the PDF and removes spaces and "/". Accept any
# run of letters and digits of a plausible length rather than guess a stricter rule.
_CVEC_CODE_RE = re.compile(r"^[A-Z0-9]{6,40}$")
# SIREN of La Poste: its establishments' SIRETs use a sum-of-digits rule instead of Luhn.
_LA_POSTE_SIREN = "356000000"


def _compact(value: str) -> str:
    return re.sub(r"[\s./-]", "", str(value)).upper()


def normalize_uai(value: str) -> str:
    return _compact(value)


def normalize_ine(value: str) -> str:
    return _compact(value)


def normalize_siret(value: str) -> str:
    return re.sub(r"\s", "", str(value))


def normalize_certification_code(value: str) -> str:
    return _compact(value)


def normalize_cvec_code(value: str) -> str:
    return _compact(value)


def uai_check_letter(digits: str) -> str:
    """The check letter of the 7 leading characters of a UAI."""
    return UAI_CHECK_ALPHABET[int(digits) % 23]


def validate_uai(value: str) -> None:
    match = _UAI_RE.match(value or "")
    if not match:
        raise ValidationError(
            _("Le code UAI « %(value)s » doit comporter 7 chiffres suivis d'une lettre."),
            code="uai_format",
            params={"value": value},
        )
    digits, letter = match.groups()
    expected = uai_check_letter(digits)
    if letter != expected:
        raise ValidationError(
            _(
                "Le code UAI « %(value)s » est invalide : la lettre de contrôle devrait être "
                "« %(expected)s »."
            ),
            code="uai_check_letter",
            params={"value": value, "expected": expected},
        )


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_siret(value: str) -> None:
    if not _SIRET_RE.match(value or ""):
        raise ValidationError(
            _("Le SIRET « %(value)s » doit comporter exactement 14 chiffres."),
            code="siret_format",
            params={"value": value},
        )
    if value.startswith(_LA_POSTE_SIREN):
        valid = sum(int(c) for c in value) % 5 == 0
    else:
        valid = luhn_is_valid(value)
    if not valid:
        raise ValidationError(
            _("Le SIRET « %(value)s » est invalide : sa clé de contrôle ne correspond pas."),
            code="siret_checksum",
            params={"value": value},
        )


def validate_ine(value: str) -> None:
    if not _INE_RE.match(value or ""):
        raise ValidationError(
            _("L'INE « %(value)s » doit comporter exactement 11 chiffres ou lettres."),
            code="ine_format",
            params={"value": value},
        )


def validate_certification_code(value: str) -> None:
    """An RNCP code (RNCP12345), an RS code (RS1234) or a numeric Certif Info code."""
    if not (
        _RNCP_RE.match(value or "")
        or _RS_RE.match(value or "")
        or _CERTIFINFO_ID_RE.match(value or "")
    ):
        raise ValidationError(
            _(
                "Le code de certification « %(value)s » doit être un code RNCP (RNCP12345), "
                "un code RS (RS1234) ou un code Certif Info (chiffres uniquement)."
            ),
            code="certification_code_format",
            params={"value": value},
        )


def validate_covoiturage_uuid(value: str) -> None:
    try:
        parsed = uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        parsed = None
    if parsed is None or str(parsed) != str(value).lower():
        raise ValidationError(
            _(
                "L'identifiant d'attestation « %(value)s » doit être un UUID, par exemple "
                "9415300a-7a51-4296-96d1-68636e46485d."
            ),
            code="covoiturage_uuid_format",
            params={"value": value},
        )


def validate_cvec_code(value: str) -> None:
    if not _CVEC_CODE_RE.match(value or ""):
        raise ValidationError(
            _(
                "Le numéro d'attestation CVEC « %(value)s » doit comporter de 6 à 40 lettres "
                "ou chiffres."
            ),
            code="cvec_code_format",
            params={"value": value},
        )


def parse_school_year(value: str) -> int:
    """The first year of a school year written AAAA or AAAA-AAAA ("2025" or "2025-2026")."""
    match = _SCHOOL_YEAR_RE.match(str(value or "").strip())
    if not match:
        raise ValidationError(
            _("L'année scolaire « %(value)s » doit s'écrire AAAA ou AAAA-AAAA (ex. 2025-2026)."),
            code="school_year_format",
            params={"value": value},
        )
    start, end = int(match.group(1)), match.group(2)
    if end is not None and int(end) != start + 1:
        raise ValidationError(
            _("L'année scolaire « %(value)s » doit couvrir deux années qui se suivent."),
            code="school_year_span",
            params={"value": value},
        )
    if not 1990 <= start <= 2100:
        raise ValidationError(
            _("L'année scolaire « %(value)s » n'est pas plausible."),
            code="school_year_range",
            params={"value": value},
        )
    return start
