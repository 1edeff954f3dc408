"""Counts as people read them: ``{{ n|number }}`` groups thousands in the page's language
(French: "20 000" with a narrow no-break space; English: "20,000"). Only for display: an
attribute or a URL takes the bare ``{{ n }}``."""

from typing import Any

from django import template
from django.utils.formats import number_format


register = template.Library()


@register.filter
def number(value: Any) -> str:
    if value is None or value == "":
        return ""
    return number_format(value, use_l10n=True, force_grouping=True)
