"""What an applicant declares, per claim kind: the declared data's fields and their rules.

A claim stores its declared data as JSON; ``clean_declared`` is the only way in, so what is
stored always has the canonical shape below. Field names are the JSON keys and the form fields.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from admissions import validators
from admissions.infra.integers import parse_int
from admissions.infra.text_input import text_errors
from verifications.enums import ClaimKind


@dataclass(frozen=True)
class ScolariteDeclared:
    """Enrolled in this establishment (UAI) for this school year (its first year)."""

    uai: str
    school_year: int


@dataclass(frozen=True)
class CvecDeclared:
    """Holds this CVEC attestation, for this campaign (its first year), when given."""

    code: str
    campaign: int | None = None


@dataclass(frozen=True)
class CertificationDeclared:
    """Holds this certification (RNCP, RS or Certif Info code); the programme may require a
    minimum European level (1 to 8)."""

    code: str
    min_level: int | None = None


@dataclass(frozen=True)
class CovoiturageDeclared:
    """Holds this carpooling attestation (its UUID)."""

    uuid: str


Declared = ScolariteDeclared | CvecDeclared | CertificationDeclared | CovoiturageDeclared

DECLARED_TYPES: dict[str, type[Declared]] = {
    ClaimKind.SCOLARITE: ScolariteDeclared,
    ClaimKind.CVEC: CvecDeclared,
    ClaimKind.CERTIFICATION: CertificationDeclared,
    ClaimKind.COVOITURAGE: CovoiturageDeclared,
}


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()


def _required(errors: dict[str, list[ValidationError]], key: str, value: str) -> bool:
    if value:
        return True
    errors.setdefault(key, []).append(ValidationError(_("Ce champ est obligatoire."), "required"))
    return False


def _run(errors: dict[str, list[ValidationError]], key: str, check, value):
    try:
        return check(value)
    except ValidationError as exc:
        errors.setdefault(key, []).extend(exc.error_list)
        return None


def _optional_int(
    errors: dict[str, list[ValidationError]], key: str, raw: str, low: int, high: int
) -> int | None:
    if not raw:
        return None
    value = parse_int(raw, low=low, high=high)
    if value is None:
        errors.setdefault(key, []).append(
            ValidationError(
                _("Saisissez un nombre entier entre %(low)s et %(high)s."),
                code="out_of_range",
                params={"low": low, "high": high},
            )
        )
        return None
    return value


def clean_declared(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise declared data; raise ``ValidationError`` keyed by field."""
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any]
    match kind:
        case ClaimKind.SCOLARITE:
            uai = validators.normalize_uai(_text(data, "uai"))
            if _required(errors, "uai", uai):
                _run(errors, "uai", validators.validate_uai, uai)
            raw_year = _text(data, "school_year")
            year = None
            if _required(errors, "school_year", raw_year):
                year = _run(errors, "school_year", validators.parse_school_year, raw_year)
            cleaned = {"uai": uai, "school_year": year}
        case ClaimKind.CVEC:
            code = validators.normalize_cvec_code(_text(data, "code"))
            if _required(errors, "code", code):
                _run(errors, "code", validators.validate_cvec_code, code)
            raw_campaign = _text(data, "campaign")
            campaign = None
            if raw_campaign:
                campaign = _run(errors, "campaign", validators.parse_school_year, raw_campaign)
            cleaned = {"code": code, "campaign": campaign}
        case ClaimKind.CERTIFICATION:
            code = validators.normalize_certification_code(_text(data, "code"))
            if _required(errors, "code", code):
                _run(errors, "code", validators.validate_certification_code, code)
            min_level = _optional_int(errors, "min_level", _text(data, "min_level"), 1, 8)
            cleaned = {"code": code, "min_level": min_level}
        case ClaimKind.COVOITURAGE:
            value = _text(data, "uuid").lower()
            if _required(errors, "uuid", value):
                _run(errors, "uuid", validators.validate_covoiturage_uuid, value)
            cleaned = {"uuid": value}
        case _:
            raise ValidationError(
                {"kind": _("Type de déclaration inconnu : « %(kind)s ».") % {"kind": kind}}
            )
    unknown = set(data) - set(cleaned)
    if unknown:
        errors.setdefault("__all__", []).append(
            ValidationError(
                _("Champs inattendus : %(fields)s."),
                code="unexpected_fields",
                params={"fields": ", ".join(sorted(unknown))},
            )
        )
    # A hidden or control character is the one error of its field.
    errors.update(text_errors(data, list(cleaned)))
    if errors:
        raise ValidationError(errors)
    return cleaned


def declared_as(kind: str, data: Mapping[str, Any]) -> Declared:
    """The typed form of stored (already cleaned) declared data."""
    return DECLARED_TYPES[kind](**data)


def declared_to_json(declared: Declared) -> dict[str, Any]:
    return asdict(declared)


# The kinds whose source is asked about a person (the identity is sent, or compared with the
# holder's): a change of the applicant's identity changes the question their checks ask.
IDENTITY_KINDS = frozenset({ClaimKind.SCOLARITE, ClaimKind.CVEC})
# The applicant's fields those sources match on or compare with.
QUESTION_IDENTITY_FIELDS = ("birth_name", "usage_name", "first_names", "sex", "birth_date")


def question_identity(applicant: Any) -> dict[str, Any]:
    """The part of an applicant's identity a check asks about (an ``Applicant`` or any object
    with the same attributes)."""
    return {name: getattr(applicant, name) for name in QUESTION_IDENTITY_FIELDS}


def question_digest(kind: str, declared: Mapping[str, Any], identity: Mapping[str, Any]) -> str:
    """A digest of what a check of this claim asks its source: the declaration and, for the
    ``IDENTITY_KINDS``, the identity. Two checks with the same digest asked the same question;
    a verdict whose digest differs from the claim's current one is about a previous
    declaration (or a previous identity)."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    question: dict[str, Any] = {"kind": str(kind), "declared": {**declared}}
    if kind in IDENTITY_KINDS:
        question["identity"] = {
            name: plain(identity.get(name)) for name in QUESTION_IDENTITY_FIELDS
        }
    canonical = json.dumps(question, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_question_digest(claim: Any, applicant: Any = None) -> str:
    """``question_digest`` of a claim as it stands (its applicant as recorded)."""
    applicant = applicant if applicant is not None else claim.applicant
    return question_digest(claim.kind, claim.declared, question_identity(applicant))


# The variants of a claim's question a person may try after a "not found"
# (``verifications.rematch``), as the card, the results file and the audit trail say them.
VARIANT_LABELS = {
    "ascii": _("les noms en majuscules, sans accents"),
    "usage_name": _("le nom d'usage à la place du nom de naissance"),
    "birth_name_part": _("une partie du nom composé"),
    "birth_name_joined": _("le nom composé écrit avec un trait d'union ou une espace"),
    "first_names_swapped": _("le deuxième prénom en premier"),
    "first_name_joined": _("le prénom composé écrit avec un trait d'union ou une espace"),
    "day_month_swapped": _("le jour et le mois de naissance inversés"),
    "code_rncp": _("le code lu comme un code RNCP"),
    "code_rs": _("le code lu comme un code RS"),
}


def variant_label(key: str) -> str:
    """``VARIANT_LABELS`` of a key (``birth_name_part_2`` is a ``birth_name_part``)."""
    base = key.rsplit("_", 1)[0] if key.startswith("birth_name_part_") else key
    return str(VARIANT_LABELS.get(base, key))
