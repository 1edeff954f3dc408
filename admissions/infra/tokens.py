"""Reading what an API token says about itself.

API Particulier tokens are JWTs: their payload's ``exp`` is the expiry Vigie warns about. The
signature is not checked (only DINUM holds the key, and the expiry is a reminder, not a security
decision); a token that is not a JWT, or has no usable ``exp``, simply has no known expiry.
"""

import base64
import binascii
import datetime as dt
import json


def jwt_expiry(token: str) -> dt.datetime | None:
    """The ``exp`` of a JWT as an aware UTC datetime, or ``None``."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(exp, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
