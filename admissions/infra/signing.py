"""The deployment's Ed25519 signing keys: what signs verification certificates (and, later, the
audit chain's daily heads), and the public keys anyone may use to check those signatures.

``VIGIE_SIGNING_KEYS`` holds one or more private keys, newest first (``python manage.py
generate_signing_key`` prints one): the first signs; every key's public half stays published at
``/.well-known/vigie-signing-keys.json``, so that a certificate signed before a rotation still
verifies. A retired key is kept in the list (it signs nothing once it is not first) until no
certificate it signed matters any more. In DEBUG without a key, one is derived from SECRET_KEY so
that development needs no setup, as for ``FIELD_ENCRYPTION_KEY``.

A key is written as the URL-safe base64 of its 32 raw bytes; its id is the first 16 hex digits of
the SHA-256 of its raw public key, printed on each certificate. docs/CERTIFICATES.md says how to
check a signature with any Ed25519 tool.
"""

import base64
import binascii
import functools
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    raw: bytes  # 32 bytes

    @property
    def text(self) -> str:
        return b64(self.raw)

    @property
    def pem(self) -> str:
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Signature:
    key_id: str
    value: bytes  # 64 bytes


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """URL-safe base64, padding optional; raises ValueError on anything else."""
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not URL-safe base64") from exc


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def generate_key() -> str:
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    return b64(raw)


@functools.cache
def _private_keys(configured: tuple[str, ...]) -> tuple[Ed25519PrivateKey, ...]:
    keys = []
    for n, text in enumerate(configured, start=1):
        try:
            raw = unb64(text)
            keys.append(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"VIGIE_SIGNING_KEYS: key {n} is not the URL-safe base64 of 32 bytes "
                "(python manage.py generate_signing_key prints one)."
            ) from exc
    return tuple(keys)


def _configured() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.VIGIE_SIGNING_KEYS if k.strip())
    if keys:
        return keys
    if not settings.DEBUG:
        raise ImproperlyConfigured("VIGIE_SIGNING_KEYS is required when DEBUG is off.")
    seed = hashlib.sha256(b"vigie-signing:" + settings.SECRET_KEY.encode()).digest()
    return (b64(seed),)


def _public(private: Ed25519PrivateKey) -> PublicKey:
    raw = private.public_key().public_bytes_raw()
    return PublicKey(key_id=key_id(raw), raw=raw)


def public_keys() -> list[PublicKey]:
    """Every configured key's public half, the signing one first."""
    return [_public(key) for key in _private_keys(_configured())]


def sign(message: bytes) -> Signature:
    private = _private_keys(_configured())[0]
    return Signature(key_id=_public(private).key_id, value=private.sign(message))


def verify(message: bytes, signature: Signature, keys: list[PublicKey] | None = None) -> bool:
    """Whether ``signature`` is a signature of ``message`` by the key it names, among ``keys``
    (the configured ones by default)."""
    for public in public_keys() if keys is None else keys:
        if public.key_id != signature.key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public.raw).verify(signature.value, message)
        except InvalidSignature:
            return False
        return True
    return False
