"""Symmetric encryption of secrets stored in the database (API tokens).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``. ``FIELD_ENCRYPTION_KEY`` holds one
or more keys, newest first: values are encrypted with the first and decrypted with any, so keys
can be rotated: put a new key (``python manage.py generate_encryption_key``) first and keep the
old ones. A stored value is re-encrypted with the newest key whenever it is written again (a
token re-entered); no command re-encrypts stored values in bulk (``rotate`` re-encrypts one
value), so an old key stays listed as long as values encrypted with it remain. In DEBUG without
a key, one is derived from SECRET_KEY so that development needs no setup.
"""

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@functools.cache
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEY if k.strip())
    if keys:
        return keys
    if not settings.DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is required when DEBUG is off.")
    digest = hashlib.sha256(b"vigie-field-encryption:" + settings.SECRET_KEY.encode()).digest()
    return (base64.urlsafe_b64encode(digest).decode(),)


def encrypt(plaintext: str) -> str:
    return _multi_fernet(_configured_keys()).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _multi_fernet(_configured_keys()).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc


def readable(ciphertext: str) -> bool:
    """Whether a stored secret decrypts with the configured keys (not after a wrong rotation)."""
    try:
        decrypt(ciphertext)
    except DecryptionError:
        return False
    return True


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key."""
    return _multi_fernet(_configured_keys()).rotate(ciphertext.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def fingerprint(plaintext: str) -> str:
    """A short, non-reversible tag that tells two secrets apart without revealing either."""
    return hashlib.sha256(plaintext.encode()).hexdigest()[:10]
