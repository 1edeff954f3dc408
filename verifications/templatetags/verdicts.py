"""Verdicts and claim kinds as the pages show them.

Python, not an ``{% include %}``: the applicant list shows 200 badges a page, and an include
with its context plus Django's ``get_FOO_display`` (which rebuilds the field's choices, lazy
translations and all, on every call) cost about a third of the page's time
(bench/profile_pages.py, docs/PERFORMANCE.md)."""

import functools

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from admissions.infra.choices import choice_label
from verifications.enums import ClaimKind, Source, Verdict


register = template.Library()

# CSS class suffix and symbol of each verdict: never colour alone.
_LOOK = {
    Verdict.CONFIRMED.value: "✓",
    Verdict.CONTRADICTED.value: "✗",
    Verdict.MISMATCH.value: "≠",
    Verdict.NOT_FOUND.value: "?",
    Verdict.UNAVAILABLE.value: "!",
    Verdict.REJECTED.value: "⊘",
    Verdict.MANUAL.value: "✎",
}
_BADGE = '<span class="badge badge-{}"><span aria-hidden="true">{}</span> {}</span>'


@register.simple_tag
def verdict_badge(verdict: str, in_progress: bool = False) -> SafeString:
    """A verdict as a badge: symbol and words (``""``: never checked). The same few badges
    come back on every page: each is built once per language."""
    return _badge(verdict or "", bool(in_progress), get_language())


@functools.lru_cache(maxsize=64)
def _badge(verdict: str, in_progress: bool, language: str | None) -> SafeString:
    if in_progress:
        return format_html(_BADGE, "running", "⟳", gettext("Vérification en cours"))
    if not verdict:
        return format_html(_BADGE, "none", "–", gettext("Non vérifié"))
    if verdict not in _LOOK:
        return format_html(_BADGE, "manual", "✎", verdict)
    return format_html(_BADGE, verdict, _LOOK[verdict], Verdict(verdict).label)


@register.filter
def kind_label(kind: str) -> str:
    """A claim kind's label (``claim.get_kind_display`` without rebuilding the choices)."""
    return choice_label(ClaimKind, kind)


@register.filter
def source_label(source: str) -> str:
    """A source's name (``get_source_display`` without rebuilding the choices)."""
    return choice_label(Source, source)


@register.filter
def verdict_label(verdict: str) -> str:
    """A verdict's words, without the badge ("Non vérifié" for none)."""
    return choice_label(Verdict, verdict) if verdict else gettext("Non vérifié")
