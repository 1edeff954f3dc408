"""Signing a delivery the Standard Webhooks way (https://www.standardwebhooks.com/).

The signature is ``v1,<base64 HMAC-SHA256>`` of ``<webhook-id>.<webhook-timestamp>.<body>``,
keyed by the secret's bytes; the secret is shown to the admin as ``whsec_<base64>``. The
``standardwebhooks`` package (the specification's reference library, pure Python, no
dependency) computes it, so that what we send is what receivers using it verify.
"""

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

from standardwebhooks import Webhook


SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
# The specification asks for 24 to 64 random bytes.
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: int
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": str(self.timestamp),
            "webhook-signature": self.signature,
        }


def sign(*, secret: str, webhook_id: str, when: datetime, body: bytes) -> SignedHeaders:
    """The three headers of one attempt (the timestamp is the attempt's: receivers refuse old
    ones, so each attempt is signed afresh)."""
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=when, data=body)
    return SignedHeaders(webhook_id, int(when.timestamp()), signature)
