"""Template helpers for audit events: the labels of what they name."""

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field
from django.utils.translation import gettext, ngettext

from admissions.claims import variant_label
from admissions.enums import ClaimKind, Verdict
from admissions.forms import AUDIT_OBJECT_TYPES, claim_fields
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
            if "from" in details:  # events before 2026-12 did not record it: no bare arrow
                label = f"{_verdict_words(details['from'])} → {label}"
            parts.append(label)
    if details.get("verdict_reset_from") in Verdict.values:
        parts.append(f"{_verdict_words(details['verdict_reset_from'])} → {_verdict_words('')}")
    if details.get("applied") is False:
        parts.append(gettext("non reporté sur la déclaration, modifiée depuis"))
    if details.get("variant"):
        parts.append(gettext("variante : %(what)s") % {"what": variant_label(details["variant"])})
    if details.get("fields"):
        kind = details.get("kind")
        parts.append(", ".join(_field_label(str(f), kind) for f in details["fields"]))
    if isinstance(details.get("verdicts_reset"), int) and details["verdicts_reset"]:
        n = details["verdicts_reset"]
        parts.append(
            ngettext(
                "%(n)s verdict remis à « Non vérifié »",
                "%(n)s verdicts remis à « Non vérifié »",
                n,
            )
            % {"n": n}
        )
    if details.get("format"):
        parts.append(str(details["format"]).upper())
    if isinstance(details.get("count"), int):
        n = details["count"]
        parts.append(ngettext("%(n)s déclaration", "%(n)s déclarations", n) % {"n": n})
    return " · ".join(parts)


def _verdict_words(verdict: str) -> str:
    return str(Verdict(verdict).label) if verdict in Verdict.values else gettext("Non vérifié")


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None


def _field_label(name: str, kind: Any) -> str:
    """An edited field's label: the claim's declared field as its form labels it (claim edits
    carry their ``kind``), else the applicant's field."""
    if kind in ClaimKind.values:
        labels = {field_name: field.label for field_name, field in claim_fields(kind)}
        if name in labels:
            return str(labels[name])
    try:
        field = Applicant._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(field.verbose_name) if isinstance(field, Field) else name
