"""Template helpers for claims and verdicts."""

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import template
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from admissions.enums import Role
from admissions.infra.choices import choice_label
from verifications.claims import variant_label


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


register = template.Library()

DECLARED_LABELS = {
    "uai": _("Établissement (UAI)"),
    "school_year": _("Année scolaire"),
    "code": _("Code"),
    "campaign": _("Campagne"),
    "min_level": _("Niveau minimum"),
    "uuid": _("Attestation"),
}


def _year_span(year: Any) -> str:
    return f"{year}-{int(year) + 1}" if isinstance(year, int) else str(year)


@register.filter
def declared_items(claim: Any) -> list[tuple[str, str]]:
    """The claim's declared data as (label, value) pairs, empty values left out."""
    items = []
    for key, value in (claim.declared or {}).items():
        if value in (None, ""):
            continue
        if key in {"school_year", "campaign"}:
            value = _year_span(value)
        items.append((DECLARED_LABELS.get(key, key), str(value)))
    return items


DIFF_LABELS = {
    "birth_name": _("Nom"),
    "first_name": _("Prénom"),
    "first_names": _("Prénoms"),
    "sex": _("Sexe"),
    "birth_date": _("Date de naissance"),
    "enrolled": _("Scolarisé"),
    "uai": _("Établissement (UAI)"),
    "school_year": _("Année scolaire"),
    "state": _("État de l'attestation"),
    "campaign": _("Campagne"),
    "code": _("Code"),
    "status": _("Statut"),
    "level": _("Niveau européen"),
    "uuid": _("Attestation"),
    "type": _("État de l'attestation"),
}


@register.filter
def batch_label(batch: Any) -> str:
    """A batch's label in the reader's language (``verifications.batch_labels``)."""
    from verifications.batch_labels import batch_label as label

    return label(batch)


@register.filter
def diff_label(field: str) -> "StrOrPromise":
    return DIFF_LABELS.get(field, field)


# What the verdict functions compare for a field, as a clerk reads it: the rows hold JSON values
# (``verdicts.common.row``), some of them codes ("valid", "70", "active", "ok").
DIFF_VALUE_WORDS: dict[str, dict[str, "StrOrPromise"]] = {
    "state": {"valid": _("attestation valide")},
    "status": {
        "active": pgettext_lazy("une certification", "en vigueur"),
        "archived": pgettext_lazy("une certification", "archivée"),
    },
    "type": {"ok": _("valide"), "expired": _("expirée")},
    "sex": {"F": _("Féminin"), "M": _("Masculin")},
}


def _iso_date(value: str) -> dt.date | None:
    if len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@register.filter
def diff_value(value: Any, field: str = "") -> str:
    """One side of a comparison row in words: dates as 09/04/2008, booleans as oui/non, codes
    in words (a CVEC state code: "attestation valide (code 70)"), lists joined; "—" if empty."""
    from verifications.verdicts.cvec import is_valid_state

    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_("oui") if value else _("non"))
    if isinstance(value, list | tuple):
        return ", ".join(diff_value(v, field) for v in value)
    if field == "state" and value != "valid":
        words = _("attestation valide") if is_valid_state(value) else _("attestation non valide")
        return str(_("%(words)s (code %(code)s)") % {"words": words, "code": value})
    known = DIFF_VALUE_WORDS.get(field, {})
    if isinstance(value, str) and value in known:
        return str(known[value])
    if isinstance(value, str) and (date := _iso_date(value)) is not None:
        return date.strftime("%d/%m/%Y")
    return str(value)


@register.filter
def reason_text(request: Any) -> str:
    """The request's reason in the current language (a person's own words stay as written)."""
    from verifications.verdicts import REASONS, render_reason

    if request.reason_code in REASONS:
        return render_reason(
            request.reason_code, request.reason_params, language=get_language() or "fr"
        )
    return request.reason


@register.filter
def notes_text(request: Any) -> list[str]:
    from verifications.verdicts import NOTES, render_note

    codes = [code for code in request.note_codes or () if code in NOTES]
    if not codes:
        return list(request.notes or ())
    language = get_language() or "fr"
    return [render_note(code, language=language) for code in codes]


# --- People and identity variants -------------------------------------------------------------

VARIANT_FIELD_LABELS = {
    "birth_name": _("Nom de naissance"),
    "usage_name": _("Nom d'usage"),
    "first_names": _("Prénoms"),
    "birth_date": _("Date de naissance"),
    "code": _("Code"),
}


def _variant_value(name: str, value: Any) -> str:
    if name == "birth_date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@register.filter
def variant_changes(variant: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A stored variant's changes as (label, value sent) pairs."""
    changes = (variant or {}).get("changes") or {}
    return [
        (str(VARIANT_FIELD_LABELS.get(name, name)), _variant_value(name, value))
        for name, value in changes.items()
    ]


@register.filter
def variant_title(variant: dict[str, Any] | None) -> str:
    return variant_label(str((variant or {}).get("key", "")))


def variant_text(variant: dict[str, Any]) -> str:
    """One line for a results file: what the variant does and what it sends."""
    changes = " ; ".join(f"{label} : {value}" for label, value in variant_changes(variant))
    return f"{variant_title(variant)} ({changes})"


@register.filter
def person_label(user: Any) -> str:
    """Who a person is, as a card names them: "Marie Dupont (Superviseur)"."""
    if user is None:
        return str(_("Vigie"))
    name = user.get_full_name() or user.get_username()
    person = getattr(user, "institution_id", None) and not user.is_api_key
    role = choice_label(Role, user.role) if person else ""
    return f"{name} ({role})" if role else name
