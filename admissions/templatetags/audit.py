"""Template helpers for audit events: what they say, in words (``admissions/audit_words.py``,
the renderer the exports use too)."""

from typing import Any

from django import template

from admissions import audit_words
from admissions.audit_purposes import purpose_text as _purpose_text
from admissions.models import AuditEvent


register = template.Library()


@register.filter
def object_type_label(object_type: str) -> str:
    return audit_words.object_type_label(object_type)


@register.filter
def audit_summary(details: dict[str, Any] | None) -> str:
    """What an event's details say, at a glance (``audit_words.details_summary``)."""
    return audit_words.details_summary(details)


@register.filter
def action_label(event: AuditEvent) -> str:
    """The action in words, a batch's pause and resume included (``audit_words.action_label``)."""
    return audit_words.action_label(event)


@register.filter
def actor_name(event: AuditEvent) -> str:
    """Who acted, by name (``audit_words.actor_name``)."""
    return audit_words.actor_name(event)


@register.filter
def purpose_text(purpose: str) -> str:
    """A stored purpose in the reader's language (``audit_purposes.purpose_text``)."""
    return _purpose_text(purpose)


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None
