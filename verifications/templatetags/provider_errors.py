"""Provider error codes in words, and rate use, for templates (the error codes' table:
``providers/error_codes.py``).

    {% load provider_errors %}
    {{ breaker.last_error|error_words:source }}
      → "Erreur du fournisseur de données (MEN), code 30999"
    {{ attempt|attempt_error|default:"—" }}
      → the same for one call, "" when it went well
"""

from typing import Any

from django import template
from django.utils.translation import gettext, gettext_lazy

from admissions.templatetags.numbers import number
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


@register.filter
def rate_use(rate: Any) -> str:
    """One rate's use now (a ``limits.RateUse``): "12 / 20 par s", "340 / 1000 par min"."""
    window = float(rate.window)
    if window == 1:
        per = gettext("par s")
    elif window == 60:
        per = gettext("par min")
    elif window == 3600:
        per = gettext("par h")
    elif window % 60 == 0:
        per = gettext("par %(n)s min") % {"n": int(window // 60)}
    else:
        per = gettext("par %(n)s s") % {"n": f"{window:g}"}
    return f"{number(rate.used)} / {number(rate.limit)} {per}"


# What a rate limits, in words (``limits.RateUse.scope``: "source", "token:<hash>",
# "ip:<egress id>", "server:<scope>").
RATE_SCOPES = {
    "source": gettext_lazy("toutes demandes"),
    "token": gettext_lazy("par jeton"),
    "ip": gettext_lazy("par adresse IP"),
    "server": gettext_lazy("quota annoncé par la source"),
}


@register.filter
def rate_scope(rate: Any) -> str:
    """What one rate counts, in words: "par jeton", "par adresse IP"..."""
    kind = str(rate.scope).partition(":")[0]
    return str(RATE_SCOPES.get(kind, kind))


@register.filter
def rate_subject(rate: Any) -> str:
    """Which token, egress address or announced quota a rate counts (its scope's id: the
    token's fingerprint, the egress id), for staff; empty for a source's own rate."""
    return str(rate.scope).partition(":")[2]
