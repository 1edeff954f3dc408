import pytest
from django.core.exceptions import ImproperlyConfigured

from admissions.infra import crypto


def test_round_trip_and_rotation(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEY = [old]
    ciphertext = crypto.encrypt("jeton")
    assert crypto.decrypt(ciphertext) == "jeton"

    settings.FIELD_ENCRYPTION_KEY = [new, old]  # rotation: new key first, old one kept
    assert crypto.decrypt(ciphertext) == "jeton"
    rotated = crypto.rotate(ciphertext)
    settings.FIELD_ENCRYPTION_KEY = [new]
    assert crypto.decrypt(rotated) == "jeton"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(ciphertext)


def test_production_requires_a_key(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEY = []
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")


def test_fingerprint_does_not_reveal_the_secret():
    assert "jeton" not in crypto.fingerprint("jeton")
    assert crypto.fingerprint("a") != crypto.fingerprint("b")
