"""Integers read from a URL, a query string or a form: one parser for all of them.

What a browser sends is text, and Python's ``str.isdigit()`` and ``int()`` accept more than the
digits 0 to 9 ("²" is a digit to ``isdigit()`` and an error to ``int()``; "١٢" and "1_000" are
numbers to ``int()``), while the database refuses a number past its column's range (SQLite
raises ``OverflowError``, PostgreSQL ``DataError``). So nothing in a request reaches ``int()``
or a query unchecked: ``parse_int`` reads ASCII digits only, of a bounded length, within a range,
and answers ``None`` otherwise; ``id_or_404`` answers 404; ``IdField`` (forms) a form error; and
``IdConverter`` (the ``<id:...>`` path converter) makes a URL whose id cannot exist not match
(404).
"""

import re
from typing import Any

from django import forms
from django.http import Http404


# The largest id a row can have: a signed 64-bit integer (PostgreSQL's bigint, SQLite's INTEGER).
ID_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(raw: Any, *, low: int = 0, high: int = ID_MAX) -> int | None:
    """The integer ``raw`` spells in ASCII digits, when it lies in ``[low, high]``; else ``None``.

    No sign, no spaces, no underscores, no other script's digits: what a URL or a field holds
    when it was written by our own pages or typed as a plain number.
    """
    text = str(raw) if raw is not None else ""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(raw: Any) -> int | None:
    """A row id (1 to ``ID_MAX``), or ``None``."""
    return parse_int(raw, low=1)


def id_or_404(raw: Any) -> int:
    value = parse_id(raw)
    if value is None:
        raise Http404
    return value


class IdConverter:
    """``<id:name>`` in a URL pattern: a row id, or no match (404). Django's ``<int:...>``
    matches any run of digits, so a 25-digit id reached the database."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValueError(value)  # the pattern does not match: 404
        return parsed

    def to_url(self, value: Any) -> str:
        return str(int(value))


class IdField(forms.IntegerField):
    """A form field holding a row id: ASCII digits in 1 to ``ID_MAX``, else the field's error."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        parsed = parse_int(str(value).strip())
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed
