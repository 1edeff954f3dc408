"""Template helpers for audit events: the labels of what they name."""

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from admissions.enums import ClaimKind, Verdict
from admissions.forms import AUDIT_OBJECT_TYPES
from admissions.models import Applicant


register = template.Library()


@register.filter
def object_type_label(object_type: str) -> str:
    return str(AUDIT_OBJECT_TYPES.get(object_type, object_type))


@register.filter
def audit_summary(details: dict[str, Any] | None) -> str:
    """What an event's details say, in words: the claim kind, the verdict reached or set, the
    fields changed, the export's format. Ids and hashes stay in the export."""
    details = details or {}
    parts = []
    if details.get("kind") in ClaimKind.values:
        parts.append(str(ClaimKind(details["kind"]).label))
    for key in ("verdict", "to"):
        if details.get(key) in Verdict.values:
            label = str(Verdict(details[key]).label)
            if key == "to" and details.get("from") in Verdict.values:
                label = f"{Verdict(details['from']).label} → {label}"
            parts.append(f"→ {label}" if key == "verdict" else label)
    if details.get("fields"):
        parts.append(", ".join(_field_label(str(f)) for f in details["fields"]))
    if details.get("format"):
        parts.append(str(details["format"]).upper())
    if isinstance(details.get("count"), int):
        n = details["count"]
        parts.append(ngettext("%(n)s déclaration", "%(n)s déclarations", n) % {"n": n})
    return " · ".join(parts)


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None


# A claim's declared fields (admissions/claims.py), as the claim forms label them.
_DECLARED_LABELS = {
    "uai": _("Code UAI de l'établissement"),
    "school_year": _("Année scolaire"),
    "code": _("Code"),
    "campaign": _("Campagne"),
    "min_level": _("Niveau européen minimum exigé"),
    "uuid": _("Identifiant de l'attestation"),
}


def _field_label(name: str) -> str:
    """An edited field's label: the applicant's field, or the claim's declared field."""
    if name in _DECLARED_LABELS:
        return str(_DECLARED_LABELS[name])
    try:
        return str(Applicant._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name
