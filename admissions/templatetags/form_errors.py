"""The error summary above a form: every error of the page's forms, each named by its field's
label (and its group's, when several forms on the page share labels) and linked to its field,
so that a person reading the summary reaches the field in one step."""

from collections.abc import Iterable, Iterator
from typing import Any

from django import forms, template
from django.forms.boundfield import BoundField
from django.utils.translation import gettext


register = template.Library()


def _forms(items: Iterable[Any]) -> Iterator[forms.BaseForm]:
    """The forms among ``items``: forms, lists of forms, and (label, form) pairs."""
    for item in items:
        if isinstance(item, forms.BaseForm):
            yield item
        elif isinstance(item, str) or item is None:
            continue
        elif isinstance(item, Iterable):
            yield from _forms(item)


def _anchor(field: BoundField) -> str:
    """The id of the element a link to the field lands on: the widget, or a group's first
    choice (a group of radios or checkboxes has no single id)."""
    return field.id_for_label or (f"{field.auto_id}_0" if field.auto_id else "")


@register.inclusion_tag("includes/_error_summary.html")
def error_summary(*items: Any) -> dict[str, Any]:
    """``{% error_summary form other_forms %}``: the summary of every bound form's errors,
    nothing when there are none. A form names its group with ``error_group``."""
    errors = []
    for form in _forms(items):
        if not form.is_bound or not form.errors:
            continue
        group = getattr(form, "error_group", "")
        errors += [
            {"group": group, "label": "", "message": message, "anchor": ""}
            for message in form.non_field_errors()
        ]
        errors += [
            {"group": group, "label": field.label, "message": message, "anchor": _anchor(field)}
            for field in form
            for message in field.errors
        ]
    for error in errors:
        error["text"] = _error_text(error)
    return {"errors": errors}


def _error_text(error: dict[str, Any]) -> str:
    """ "Groupe — Champ : message" with the language's punctuation ("Field: message" in
    English), a label's own final period dropped before the colon."""
    named = " — ".join(str(part) for part in (error["group"], error["label"]) if part)
    if not named:
        return str(error["message"])
    named = named.rstrip(".")
    return gettext("%(label)s : %(value)s") % {"label": named, "value": error["message"]}
