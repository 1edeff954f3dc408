"""An applicant's identity fields and their rules, shared by forms, the CSV import and services.

The sources match on these fields, so they are checked before anything is stored: names not
empty, 1 to 3 given names, sex M or F, a plausible birth date, an INE of 11 characters.
"""

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions import validators
from admissions.enums import Sex
from admissions.infra.text_input import text_errors


IDENTITY_FIELDS = (
    "file_reference",
    "birth_name",
    "usage_name",
    "first_names",
    "sex",
    "birth_date",
    "ine",
    "email",
    "phone",
)
MAX_FIRST_NAMES = 3
# Letters (any script), spaces, hyphens and apostrophes: what civil-status names are made of.
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '’-][^\W\d_]+)*$")
_FILE_REFERENCE_RE = re.compile(r"^[\w./-]{1,64}$")
_PHONE_RE = re.compile(r"^\+?[\d .-]{6,20}$")
# A date written JJ/MM/AAAA or AAAA-MM-JJ, whether or not the day exists.
_DATE_SHAPE_RE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def tidy_name(value: str) -> str:
    """A name as stored and shown: spaces collapsed, the straight apostrophe; case, accents and
    hyphens kept as typed. (Names are compared in their folded form,
    ``verifications.names.fold_name``.)"""
    return re.sub(r"\s+", " ", str(value or "")).strip().replace("’", "'")


def search_key(*parts: str) -> str:
    """Upper case, accents and apostrophes removed, one space between words: what the applicant
    list searches in, so that "lefevre" finds "Lefèvre" and "ndiaye" finds "N'Diaye"."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"['’`]", "", plain)
    return " ".join(re.split(r"[\W_]+", plain.upper())).strip()


def applicant_search_key(identity: Mapping[str, Any]) -> str:
    return search_key(
        identity.get("birth_name", ""),
        identity.get("usage_name", ""),
        *identity.get("first_names", ()),
    )


def split_first_names(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """Given names in order. A string separates them with commas: "Marie Davida" is one name,
    "Pierre, Richard" two (API Particulier forwards only the first item to the ministry)."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return [tidy_name(item) for item in items if tidy_name(item)]


def parse_birth_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    if _DATE_SHAPE_RE.fullmatch(text):
        # Written right, but no such day (31/02/2006): say so, not that the format is wrong.
        raise ValidationError(
            _("La date du %(value)s n'existe pas : vérifiez le jour et le mois."),
            code="birth_date_impossible",
            params={"value": text},
        )
    raise ValidationError(
        _("La date de naissance « %(value)s » doit s'écrire JJ/MM/AAAA ou AAAA-MM-JJ."),
        code="birth_date_format",
        params={"value": text},
    )


def clean_identity(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate and normalise identity fields; raise ``ValidationError`` keyed by field.

    With ``partial``, only the fields present in ``data`` are checked (an edit).
    """
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}

    def fail(field: str, message: Any, code: str, **params: Any) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code, params=params))

    def wanted(field: str) -> bool:
        return not partial or field in data

    if wanted("file_reference"):
        ref = str(data.get("file_reference") or "").strip()
        if not ref:
            fail("file_reference", _("Ce champ est obligatoire."), "required")
        elif not _FILE_REFERENCE_RE.match(ref):
            fail(
                "file_reference",
                _(
                    "La référence ne peut contenir que lettres, chiffres, « . », « / », « - » et "
                    "« _ » (64 caractères au plus)."
                ),
                "file_reference_format",
            )
        cleaned["file_reference"] = ref

    for field, required in (("birth_name", True), ("usage_name", False)):
        if not wanted(field):
            continue
        name = tidy_name(data.get(field, ""))
        if not name and required:
            fail(field, _("Ce champ est obligatoire."), "required")
        elif name and (len(name) > 100 or not _NAME_RE.match(name)):
            fail(
                field,
                _(
                    "Le nom « %(value)s » ne peut contenir que des lettres, espaces, tirets et "
                    "apostrophes."
                ),
                "name_format",
                value=name,
            )
        cleaned[field] = name

    if wanted("first_names"):
        names = split_first_names(data.get("first_names") or [])
        if not names:
            fail("first_names", _("Saisissez au moins un prénom."), "required")
        elif len(names) > MAX_FIRST_NAMES:
            fail(
                "first_names",
                _("Saisissez au plus %(max)s prénoms, dans l'ordre de l'état civil."),
                "too_many_first_names",
                max=MAX_FIRST_NAMES,
            )
        for name in names:
            if len(name) > 60 or not _NAME_RE.match(name):
                fail(
                    "first_names",
                    _(
                        "Le prénom « %(value)s » ne peut contenir que des lettres, espaces, "
                        "tirets et apostrophes."
                    ),
                    "name_format",
                    value=name,
                )
        cleaned["first_names"] = names

    if wanted("sex"):
        sex = str(data.get("sex") or "").strip().upper()
        if sex not in Sex.values:
            fail("sex", _("Le sexe à l'état civil doit être « F » ou « M »."), "sex_format")
        cleaned["sex"] = sex

    if wanted("birth_date"):
        try:
            birth_date = parse_birth_date(data.get("birth_date"))
        except ValidationError as exc:
            errors.setdefault("birth_date", []).extend(exc.error_list)
        else:
            today = timezone.localdate()
            if not dt.date(1900, 1, 1) <= birth_date <= today:
                fail(
                    "birth_date",
                    _("La date de naissance %(value)s n'est pas plausible."),
                    "birth_date_range",
                    value=birth_date.strftime("%d/%m/%Y"),
                )
            cleaned["birth_date"] = birth_date

    if wanted("ine"):
        ine = validators.normalize_ine(data.get("ine") or "")
        if ine:
            try:
                validators.validate_ine(ine)
            except ValidationError as exc:
                errors.setdefault("ine", []).extend(exc.error_list)
        cleaned["ine"] = ine

    if wanted("email"):
        email = str(data.get("email") or "").strip()
        if email and (len(email) > 254 or not _EMAIL_RE.match(email)):
            fail("email", _("Saisissez une adresse électronique valide."), "email_format")
        cleaned["email"] = email

    if wanted("phone"):
        phone = str(data.get("phone") or "").strip()
        if phone and not _PHONE_RE.match(phone):
            fail("phone", _("Saisissez un numéro de téléphone valide."), "phone_format")
        cleaned["phone"] = phone

    # A hidden or control character is the one error of its field (names, references and
    # phones refuse it through their pattern too; an e-mail address only through this).
    errors.update(text_errors(data, [f for f in IDENTITY_FIELDS if wanted(f)]))
    if errors:
        raise ValidationError(errors)
    if not partial:
        cleaned["name_key"] = applicant_search_key(cleaned)
    return cleaned
