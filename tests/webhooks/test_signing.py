"""Signatures verify with the published algorithm: the specification's test vector, the
reference library, and a receiver's own HMAC without the library."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks.signing import SECRET_BYTES, secret_generate, sign


# The test vector the Standard Webhooks specification publishes with its reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector():
    headers = sign(
        secret=VECTOR_SECRET,
        webhook_id=VECTOR_ID,
        when=datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC),
        body=VECTOR_BODY,
    )
    assert headers.as_dict() == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def verify_by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What docs/WEBHOOKS.md tells a receiver to do without the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(f"v1,{expected}", candidate)
        for candidate in headers["webhook-signature"].split()
    )


def test_a_fresh_secret_signs_what_the_library_and_a_hand_check_verify():
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == SECRET_BYTES
    body = b'{"type":"verdict.changed","data":{"claim_id":1}}'
    headers = sign(secret=secret, webhook_id="msg_1", when=datetime.now(tz=UTC), body=body)
    sent = headers.as_dict()
    assert Webhook(secret).verify(body, sent) == {
        "type": "verdict.changed",
        "data": {"claim_id": 1},
    }
    assert verify_by_hand(secret, sent, body)
    # Another secret, or another body, does not verify.
    assert not verify_by_hand(secret_generate(), sent, body)
    assert not verify_by_hand(secret, sent, body + b" ")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, sent)


def test_two_secrets_differ():
    assert len({secret_generate() for _ in range(50)}) == 50
