"""Test settings: the production settings module, with only what tests must override.

With DATABASE_URL and REDIS_URL set (CI), the suite runs on PostgreSQL and Redis.
"""

import os


# Tests never reach a real API: the sandbox fixture points every base URL at loopback.
os.environ.setdefault("DJANGO_DEBUG", "true")

# Tests use their own Redis database (the limiter's tests use yet another), flushed by the
# fixtures: CI's REDIS_URL names the server, not what the tests may erase.
if os.environ.get("REDIS_URL"):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _db = os.environ.get("VIGIE_TEST_REDIS_DB", "8")
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
    os.environ.pop("CELERY_BROKER_URL", None)

# Each test run adds up the metrics of its own processes (the worker processes it starts inherit
# this), not those of another run in the same tree.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="vigie-test-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from admissions.settings import *  # noqa: F403


# No task message leaves a test by accident: the test process uses the in-memory transport.
# The worker tests start workers and beat with VIGIE_TEST_BROKER_URL set (their Redis, or the
# embedded SQLite broker under their VIGIE_VAR_DIR).
CELERY_BROKER_URL = os.environ.get("VIGIE_TEST_BROKER_URL", "memory://")
if CELERY_BROKER_URL.startswith("sqlite:"):
    from admissions.infra import broker as _broker

    CELERY_BROKER_TRANSPORT = _broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(_broker.TRANSPORT_OPTIONS)
else:
    CELERY_BROKER_TRANSPORT = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# SQLite: a test database in a file rather than in memory, so that the worker processes the
# worker tests start share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-vigie.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LANGUAGE_CODE = "fr"
# pytest-django runs tests with DEBUG off, where a real key is required.
FIELD_ENCRYPTION_KEY = ["3yR0b4ppV3mEJbHk1vYtq6Uu0mN9a2bXQh1pO5w8cLs="]
VIGIE_SIGNING_KEYS = ["1kSkvrCuekRe0jjT6bUu3txpM2xdYLmqoU5ttjG-Auo"]
# Serve static files from the source folders (no collectstatic before tests), as in development.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Receivers in tests are on loopback over plain HTTP (the sandbox's, tests/webhooks/).
VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
