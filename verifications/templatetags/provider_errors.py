"""Provider error codes in words, for templates (the table: ``providers/error_codes.py``).

    {% load provider_errors %}
    {{ breaker.last_error|error_words:source }}
      → "Erreur du fournisseur de données (MEN), code 30999"
    {{ attempt|attempt_error|default:"—" }}
      → the same for one call, "" when it went well
"""

from typing import Any

from django import template

from verifications.providers.error_codes import describe


register = template.Library()


@register.filter
def error_words(code: str | None, source: str = "") -> str:
    """An error code (a source's, ``http_502``, ``timeout``...) in words; "" when empty."""
    return describe(code, source=str(source or ""))


@register.filter
def attempt_error(attempt: Any) -> str:
    """What went wrong in one upstream call, in words: the source's code, else the failure Vigie
    recorded in the call's redacted trace (a timeout...), else an HTTP error status; "" for a
    call that went well."""
    code = attempt.provider_error_code or ""
    if not code and isinstance(attempt.payload, dict):
        code = str(attempt.payload.get("error") or "")
    status = attempt.http_status if (attempt.http_status or 0) >= 400 else None
    return describe(code, status=status, source=attempt.source)
