"""What a certificate states, as the exact bytes that are signed (pure: no database, no clock).

The payload is canonical JSON (keys sorted, no spaces, UTF-8), so that anyone can check the
signature over the bytes embedded in the PDF without re-serialising anything. Its fields are
listed in docs/CERTIFICATES.md §Payload; ``VERSION`` changes when they do.
"""

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any


VERSION = 1
# Crockford's base 32: no I, L, O or U, so a number typed from paper is not misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _base32(data: bytes, length: int) -> str:
    value = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(chars)


def new_number() -> str:
    """A random certificate number, ``VC-XXXX-XXXX`` (40 random bits)."""
    text = _base32(secrets.token_bytes(5), 8)
    return f"VC-{text[:4]}-{text[4:]}"


def check_code(signature: bytes) -> str:
    """The short code printed beside the number: 8 characters drawn from the signature, so only
    someone holding the certificate (or its QR code) knows it."""
    return _base32(hashlib.sha256(b"vigie-certificate-code:" + signature).digest()[:5], 8)


def normalise_number(text: str) -> str:
    """A number or code as typed (spaces, lower case, O for 0, I or L for 1) in its printed form."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1", " ": None})
    return text.strip().upper().translate(table)


def build(
    *,
    number: str,
    issued_at: str,
    key_id: str,
    verify_url: str,
    institution: Mapping[str, str],
    applicant: Mapping[str, str],
    claim: Mapping[str, Any],
    check: Mapping[str, Any],
) -> dict[str, Any]:
    """The certificate's statement. ``check`` holds the source, when it was queried, the
    verdict and its reason (code and both languages' words), the evidence's digest, who asked,
    and who decided when a person did."""
    return {
        "v": VERSION,
        "number": number,
        "issued_at": issued_at,
        "key_id": key_id,
        "verify_url": verify_url,
        "institution": dict(institution),
        "applicant": dict(applicant),
        "claim": dict(claim),
        "check": dict(check),
    }


def parse(data: bytes) -> dict[str, Any]:
    """The payload in ``data``; ValueError when it is not one."""
    try:
        payload = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not a certificate payload (JSON)") from exc
    if not isinstance(payload, dict) or payload.get("v") != VERSION or "number" not in payload:
        raise ValueError("not a certificate payload (version or number missing)")
    return payload
