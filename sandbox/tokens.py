"""API Particulier tokens the sandbox knows, and how it reads them.

API Particulier tokens are JWTs. The sandbox never verifies their signature (it has no key to
verify them with, and neither does anyone outside DINUM): it reads the payload to learn the
token's expiry (`exp`) and its scopes, exactly as `GET /api/introspect` reports them. A token
is accepted only if it is listed in the `particulier_tokens` knob.

Vigie's settings carry `DEFAULT_TOKEN` as a literal of their own (settings must not import the
sandbox); `tests/sandbox/test_units.py` checks that the two stay equal.
"""

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


# The six MEN scolarité scopes (docs/api/api-particulier.md §Scopes), and the payload keys each
# one governs.
MEN_SCOPES: dict[str, tuple[str, ...]] = {
    "men_statut_identite": ("identite",),
    "men_statut_scolarite": ("annee_scolaire", "est_scolarise", "statut_eleve"),
    "men_statut_etablissement": ("etablissement",),
    "men_statut_module_elementaire_formation": ("module_elementaire_formation",),
    "men_statut_boursier": ("est_boursier",),
    "men_echelon_bourse": ("echelon_bourse",),
}

# A made-up signing key: the sandbox signs its own tokens so that they are well-formed JWTs,
# and never checks signatures.
_SIGNING_KEY = b"vigie-sandbox-not-a-secret"
_ISSUED_AT = 1767225600  # 2026-01-01T00:00:00Z
_FAR_FUTURE = 2082758400  # 2036-01-01T00:00:00Z


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(
    uid: str, *, scopes: list[str] | tuple[str, ...], exp: int = _FAR_FUTURE, jti: str = ""
) -> str:
    """A well-formed HS256 JWT with API Particulier's payload keys (for tests and knobs)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = {"uid": uid, "jti": jti or uid, "iat": _ISSUED_AT, "exp": exp, "scopes": list(scopes)}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(_SIGNING_KEY, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def decode_payload(token: str) -> dict[str, Any] | None:
    """The JWT payload, without verifying the signature; None if the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def label(token: str) -> str:
    """A name for a token in stats and logs: its `uid` claim, or a short digest. Never the
    token itself."""
    payload = decode_payload(token)
    if payload and isinstance(payload.get("uid"), str) and payload["uid"]:
        return payload["uid"]
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


# Vigie's development token (admissions/settings.py `_SANDBOX_PARTICULIER_TOKEN`): all six MEN
# scopes, valid until 2036.
DEFAULT_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOiJ2aWdpZS1zYW5kYm94LWRlZmF1bHQiLCJqdGkiOiI5"  # noqa: S105
    "YjBjMWYyZS04ZDdhLTRjNTUtOWU2MS0yZjNiOGMxZDRhNzAiLCJpYXQiOjE3NjcyMjU2MDAsImV4cCI6MjA4Mjc1"
    "ODQwMCwic2NvcGVzIjpbIm1lbl9zdGF0dXRfaWRlbnRpdGUiLCJtZW5fc3RhdHV0X3Njb2xhcml0ZSIsIm1lbl9z"
    "dGF0dXRfZXRhYmxpc3NlbWVudCIsIm1lbl9zdGF0dXRfbW9kdWxlX2VsZW1lbnRhaXJlX2Zvcm1hdGlvbiIsIm1l"
    "bl9zdGF0dXRfYm91cnNpZXIiLCJtZW5fZWNoZWxvbl9ib3Vyc2UiXX0.ngMWnvglXjCpstEMG7uX0BIrfV6u1JPX"
    "EPXg5psq7yE"
)
# Expired on 2025-01-01: every call answers 401 00103.
EXPIRED_TOKEN = make_token("vigie-sandbox-expired", scopes=tuple(MEN_SCOPES), exp=1735689600)
# Identity and schooling only: the answer omits etablissement, module_elementaire_formation,
# est_boursier and echelon_bourse (production's scope masks).
REDUCED_SCOPE_TOKEN = make_token(
    "vigie-sandbox-reduced", scopes=("men_statut_identite", "men_statut_scolarite")
)
# Valid, but with no MEN scope at all: 403 00100.
NO_MEN_SCOPE_TOKEN = make_token("vigie-sandbox-no-men", scopes=("cnaf_quotient_familial",))
# Listed in the `particulier_blacklist` knob by default: 401 00105.
BLACKLISTED_TOKEN = make_token("vigie-sandbox-blacklisted", scopes=tuple(MEN_SCOPES))

ACCEPTED_TOKENS: tuple[str, ...] = (
    DEFAULT_TOKEN,
    EXPIRED_TOKEN,
    REDUCED_SCOPE_TOKEN,
    NO_MEN_SCOPE_TOKEN,
    BLACKLISTED_TOKEN,
)
CERTIFINFO_TOKEN = "vigie-sandbox-certifinfo"  # noqa: S105 - public sandbox value
