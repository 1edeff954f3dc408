"""How many certificate checks one address may make on the public page:
``VIGIE_CERTIFICATE_CHECKS_PER_HOUR`` (default 30) per address and clock hour, counted on the
default cache (Redis in production, shared by every web process). A person checking a
certificate or two never meets it; someone guessing numbers does, long before finding one (40
random bits of number and 40 of code)."""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


_PREFIX = "vigie:certificate-checks"


def _key(ip: str, hour: int) -> str:
    digest = hashlib.sha256(f"{ip}".encode()).hexdigest()[:24]
    return f"{_PREFIX}:{hour}:{digest}"


def allow(ip: str | None) -> bool:
    """Count one check from ``ip``; False when the address is over its hourly allowance."""
    limit = settings.VIGIE_CERTIFICATE_CHECKS_PER_HOUR
    if limit <= 0:
        return True
    key = _key(ip or "unknown", int(time.time() // 3600))
    if cache.add(key, 1, timeout=3600):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        return True
    return count <= limit
