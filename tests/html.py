"""Comparing an htmx fragment with the same region of the full page."""

import re


def fold(html: str) -> str:
    """Whitespace folded, and CSRF tokens (masked anew at each render) blanked."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', html)
    return " ".join(html.split())


def region(html: str, element_id: str) -> str:
    """The element with this id, folded (regions hold no nested element of the same tag)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', html, re.S)
    assert match, f"no element with id={element_id!r} in the page"
    return fold(match.group(0))
