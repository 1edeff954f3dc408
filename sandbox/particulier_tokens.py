"""API Particulier's tokens as the gateway resolves them for a request: known, expired,
blacklisted, and their scopes. Shared by the v3/v4 routes (``particulier``) and the legacy v2
route (``particulier_legacy``)."""

import functools
from dataclasses import dataclass

from sandbox.state import Context
from sandbox.tokens import decode_payload, label


@dataclass(frozen=True)
class TokenInfo:
    label: str
    scopes: frozenset[str]
    error: str | None  # an error code, or None for a usable token


@functools.lru_cache(maxsize=256)
def _read_token(raw: str) -> tuple[str, frozenset[str], float | None] | None:
    payload = decode_payload(raw)
    if payload is None:
        return None
    exp = payload.get("exp")
    scopes = payload.get("scopes") or []
    return (
        label(raw),
        frozenset(s for s in scopes if isinstance(s, str)),
        float(exp) if isinstance(exp, int | float) else None,
    )


def resolve_token(raw: str | None, ctx: Context) -> TokenInfo | None:
    """None when the token is missing or unknown (then limits are keyed by client IP)."""
    if not raw:
        return None
    knobs = ctx.knobs
    known = raw in knobs.particulier_tokens or raw in knobs.particulier_blacklist
    read = _read_token(raw) if known else None
    if read is None:
        return None
    name, scopes, exp = read
    if raw in knobs.particulier_blacklist:
        return TokenInfo(name, scopes, "00105")
    if exp is not None and exp < ctx.now:
        return TokenInfo(name, scopes, "00103")
    return TokenInfo(name, scopes, None)
