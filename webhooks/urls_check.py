"""Which URLs an endpoint may have: HTTPS, a host, no credentials in it. Plain HTTP only to
this machine (127.0.0.1, ::1, localhost), and only where the setting
``VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK`` allows it (on with DEBUG, and in the tests)."""

from urllib.parse import urlsplit


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_LENGTH = 500


def url_problem(url: str, *, allow_http_loopback: bool) -> str | None:
    """None for an acceptable URL, else a code: ``too_long``, ``invalid``, ``https_required``,
    ``credentials``."""
    if len(url) > MAX_LENGTH:
        return "too_long"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "invalid"
    if parts.scheme not in ("https", "http") or not host:
        return "invalid"
    if parts.username is not None or parts.password is not None:
        return "credentials"
    if parts.scheme == "http" and not (allow_http_loopback and host in LOOPBACK_HOSTS):
        return "https_required"
    return None
