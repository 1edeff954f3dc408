"""Test settings: the production settings module, with only what tests must override.

With DATABASE_URL and REDIS_URL set (CI), the suite runs on PostgreSQL and Redis.
"""

import os


# Tests never reach a real API: the sandbox fixture points every base URL at loopback.
os.environ.setdefault("DJANGO_DEBUG", "true")

from admissions.settings import *  # noqa: F403


PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LANGUAGE_CODE = "fr"
