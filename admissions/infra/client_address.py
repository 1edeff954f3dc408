"""The client's address, for the audit trail and the login throttle."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP for the audit trail. Behind a reverse proxy that sets X-Forwarded-For,
    set VIGIE_TRUST_X_FORWARDED_FOR=true: the address the proxy saw is then the last one."""
    if getattr(settings, "VIGIE_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None
