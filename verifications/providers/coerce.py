"""Tolerant readers of JSON values, shared by the provider modules.

The sources' payloads drift (numbers as strings, booleans as "oui"/"1", dates as JJ/MM/AAAA or
ISO): each helper returns the value in one type, or ``None`` when it cannot, never raising.
"""

import datetime as dt
import math
from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str | None:
    """A non-empty stripped string, or ``None``. Numbers become their text."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def as_bool(value: Any) -> bool | None:
    """``True``/``False`` from a JSON boolean, 0/1, or "true"/"false"/"oui"/"non"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "1", "oui", "yes", "vrai"}:
            return True
        if text in {"false", "0", "non", "no", "faux"}:
            return False
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_date(value: Any) -> dt.date | None:
    """A date from ``AAAA-MM-JJ``, ``JJ/MM/AAAA`` or an ISO date-time."""
    text = as_str(value)
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    parsed = as_datetime(text)
    return parsed.date() if parsed else None


def as_datetime(value: Any) -> dt.datetime | None:
    """An aware datetime from ISO 8601 (``Z``, ``+01:00`` and ``+0100`` offsets); naive values
    are read as UTC."""
    text = as_str(value)
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
