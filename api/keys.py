"""API keys as text: making one, reading one from a request, and its digest. Pure functions.

A key reads ``vgk_<prefix>_<secret>``: the prefix (12 lowercase hex characters, stored in
clear and indexed) finds the row; the secret is 256 random bits (43 URL-safe base64
characters). Only ``sha256(key)`` is stored. A fast hash is right here, unlike for passwords: a
256-bit random secret cannot be guessed or brute-forced from its digest, so a slow hash (or a
keyed HMAC) would add nothing but a per-request cost, and a keyed hash would tie every key to
``SECRET_KEY`` (rotating it would silently revoke them all). Digests are compared in constant
time.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass


KEY_PREFIX = "vgk"
_KEY_RE = re.compile(r"^vgk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    full: str  # shown once, never stored
    digest: str


def key_digest(full: str) -> str:
    return hashlib.sha256(full.encode()).hexdigest()


def key_generate() -> NewKey:
    prefix = secrets.token_hex(6)
    full = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, full=full, digest=key_digest(full))


def key_prefix(full: str) -> str | None:
    """The prefix of a well-formed key, None for anything else."""
    match = _KEY_RE.match(full)
    return match.group(1) if match else None


def key_matches(full: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(full), digest)
