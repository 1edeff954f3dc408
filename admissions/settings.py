"""Every Vigie setting, read from the environment (django-environ).

The embedded defaults run the whole system on one machine with nothing installed beyond Python
packages: SQLite files under ``var/`` (data, Celery broker), the sandbox standing in for the
government APIs, DEBUG on. Production is this same file with the environment set (see
``docs/DEPLOYMENT.md``): ``DJANGO_DEBUG=false``, ``DJANGO_SECRET_KEY``, ``DATABASE_URL``,
``REDIS_URL``/``CELERY_BROKER_URL``, ``FIELD_ENCRYPTION_KEY``, ``DJANGO_ALLOWED_HOSTS`` and the
providers' base URLs and tokens.
"""

import ipaddress
import os
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _


BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("VIGIE_VAR_DIR", default=str(BASE_DIR / "var")))

# --- Core -----------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env(
        "DJANGO_SECRET_KEY",
        default="django-insecure-vigie-development-key-never-use-in-production-0123456789",
    )
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY")  # required: raises ImproperlyConfigured when missing

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Behind a reverse proxy that sets X-Forwarded-For, the audit trail records the address it saw.
VIGIE_TRUST_X_FORWARDED_FOR = env.bool("VIGIE_TRUST_X_FORWARDED_FOR", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    # For its static files only: Swagger UI's assets (the API's reference page, api/views.py).
    "ninja",
    "admissions",
    "verifications",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # no-store on every response Django renders (static files were answered just above), and
    # outside every other middleware, so that it sees the answer as it leaves.
    "admissions.infra.session_security.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Under /api/ only: body size and type, Idempotency-Key replays, RateLimit-* headers, and
    # every error answered as application/problem+json (in the language LocaleMiddleware chose).
    "api.middleware.ApiMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Absolute session lifetime (docs/SECURITY.md).
    "admissions.infra.session_security.SessionLifetimeMiddleware",
    # After HtmxMiddleware: an expired session sends htmx requests to the login page in full.
    "admissions.infra.middleware.SessionExpiryMiddleware",
    # A view's Http404 answers the product's 404 page, in DEBUG too.
    "admissions.not_found.NotFoundPageMiddleware",
]

ROOT_URLCONF = "admissions.urls"
WSGI_APPLICATION = "admissions.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'vigie.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so concurrent writers (web,
    # workers, beat) queue up instead of failing with "database is locked" half-way through.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------

AUTH_USER_MODEL = "admissions.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after a working day of inactivity, and with the browser. The idle expiry is
# pushed back by SessionLifetimeMiddleware at most once a VIGIE_SESSION_REFRESH_SECONDS, not on
# every request (SESSION_SAVE_EVERY_REQUEST would write the session row on every page view).
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_SAVE_EVERY_REQUEST = False
VIGIE_SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# However active, a session ends this long after its login (admissions/infra/session_security.py).
VIGIE_SESSION_MAX_LIFETIME = env.int("VIGIE_SESSION_MAX_LIFETIME_SECONDS", default=12 * 3600)

# The dashboard's counts are served from the cache for this many seconds, then recounted by a
# worker (verifications/dashboard_counts.py); 0 counts on every view.
VIGIE_DASHBOARD_COUNTS_SECONDS = 30

# An applicant's page is a view of personal data and evidence, recorded in the audit trail
# (admissions/audit.py, audit_view_record): once per person, applicant and purpose within this
# many seconds, a person's own write on the applicant counting as their access. 0 records every
# page load.
VIGIE_AUDIT_VIEW_WINDOW_SECONDS = env.int("VIGIE_AUDIT_VIEW_WINDOW_SECONDS", default=15 * 60)

# A batch's results prepared in the background (verifications.services.exports): the file is
# deleted this many hours after it was written (the beat task verifications-exports-expire).
VIGIE_EXPORT_RETENTION_HOURS = env.int("VIGIE_EXPORT_RETENTION_HOURS", default=24)
# A batch whose preparation (verifications.services.batches.batch_prepare) has not moved for
# this many seconds lost its worker: the beat task verifications-background-sweep sends it again.
VIGIE_BATCH_PREPARE_STALE_SECONDS = env.int("VIGIE_BATCH_PREPARE_STALE_SECONDS", default=60)

# Login throttling (admissions/login_throttle.py): this many failures for one username from one
# address, or from one address whatever the usernames, lock it out for LOCKOUT_SECONDS after
# the last failure. 0 disables a limit.
VIGIE_LOGIN_FAILURE_LIMIT = env.int("VIGIE_LOGIN_FAILURE_LIMIT", default=5)
VIGIE_LOGIN_IP_FAILURE_LIMIT = env.int("VIGIE_LOGIN_IP_FAILURE_LIMIT", default=30)
VIGIE_LOGIN_LOCKOUT_SECONDS = env.int("VIGIE_LOGIN_LOCKOUT_SECONDS", default=15 * 60)
# Checks of certificates one address may make per hour on the public page (0: no limit).
VIGIE_CERTIFICATE_CHECKS_PER_HOUR = env.int("VIGIE_CERTIFICATE_CHECKS_PER_HOUR", default=30)
AUTHENTICATION_BACKENDS = ["admissions.login_throttle.LoginThrottleBackend"]

# The integration API (api/): requests per key per window (api/ratelimit.py), the largest body
# a request may send, how long an Idempotency-Key's first answer is replayed, and the default
# lifetime of a new key.
VIGIE_API_RATE_LIMIT = env.int("VIGIE_API_RATE_LIMIT", default=600)
VIGIE_API_RATE_WINDOW_SECONDS = env.int("VIGIE_API_RATE_WINDOW_SECONDS", default=60)
VIGIE_API_MAX_BODY_BYTES = env.int("VIGIE_API_MAX_BODY_BYTES", default=1024 * 1024)
VIGIE_API_IDEMPOTENCY_HOURS = 24
VIGIE_API_KEY_DEFAULT_DAYS = 365

# Webhooks (webhooks/, docs/WEBHOOKS.md): plain http:// endpoints only on this machine
# (127.0.0.1, ::1, localhost), and only when allowed (DEBUG, tests); the receiver's timeout;
# the delays between attempts (Standard Webhooks' schedule) and the window after the first
# attempt past which a delivery is given up; how long an endpoint fails before it is disabled;
# a worker's lease on a delivery, and when the sweeper re-sends a task that did not run.
VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK = env.bool("VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", default=DEBUG)
# Receivers on private networks (webhooks/addresses.py): refused unless allowed.
VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=DEBUG
)
VIGIE_WEBHOOKS_TIMEOUT = env.float("VIGIE_WEBHOOKS_TIMEOUT", default=5.0)
VIGIE_WEBHOOKS_RETRY_DELAYS = [
    float(x)
    for x in env.list(
        "VIGIE_WEBHOOKS_RETRY_DELAYS",
        default=["5", "300", "1800", "7200", "18000", "36000", "36000"],
    )
]
VIGIE_WEBHOOKS_RETRY_WINDOW_SECONDS = env.float(
    "VIGIE_WEBHOOKS_RETRY_WINDOW_SECONDS", default=24 * 3600
)
VIGIE_WEBHOOKS_DISABLE_AFTER_SECONDS = env.float(
    "VIGIE_WEBHOOKS_DISABLE_AFTER_SECONDS", default=24 * 3600
)
VIGIE_WEBHOOKS_LEASE_SECONDS = env.float("VIGIE_WEBHOOKS_LEASE_SECONDS", default=60)
VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS = env.float("VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS", default=60)
# Events (with their deliveries and attempts) are kept this long once every delivery has ended.
VIGIE_WEBHOOKS_RETENTION_DAYS = env.int("VIGIE_WEBHOOKS_RETENTION_DAYS", default=30)

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
# Our French format: thousands grouped with a narrow no-break space (admissions/formats/fr/).
FORMAT_MODULE_PATH = ["admissions.formats"]
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files Vigie writes for people to download later (a batch's certificates as a ZIP, built by a
# worker): under var/ by default. With several hosts, web and workers must share it (a network
# volume), or STORAGES["default"] must name a shared storage (docs/DEPLOYMENT.md).
MEDIA_ROOT = env("VIGIE_MEDIA_ROOT", default=str(VAR_DIR / "files"))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

# --- Security -------------------------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Fernet keys (comma-separated, newest first) for credentials encrypted at rest. Generate one
# with `python manage.py generate_encryption_key`. In DEBUG a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not DEBUG and not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEY: credentials are encrypted at rest.")

# Ed25519 keys (comma-separated, newest first) that sign verification certificates; every key's
# public half is published at /.well-known/vigie-signing-keys.json (admissions/infra/signing.py).
# Generate one with `python manage.py generate_signing_key`. In DEBUG a key is derived from
# SECRET_KEY.
VIGIE_SIGNING_KEYS = env.list("VIGIE_SIGNING_KEYS", default=[])
if not DEBUG and not VIGIE_SIGNING_KEYS:
    raise ImproperlyConfigured("Set VIGIE_SIGNING_KEYS: verification certificates are signed.")

# RFC 3161 time-stamps of the audit chains' signed heads (admissions/audit_heads.py,
# admissions/infra/timestamps.py): the time-stamping authority's URL (empty: no time-stamps)
# and a PEM file of the certificates its tokens must chain to (its root, and intermediates);
# the file alone still lets `audit_verify` check the tokens already stored.
VIGIE_TSA_URL = env("VIGIE_TSA_URL", default="")
VIGIE_TSA_CA_FILE = env("VIGIE_TSA_CA_FILE", default="")
VIGIE_TSA_TIMEOUT = env.float("VIGIE_TSA_TIMEOUT", default=10.0)
if VIGIE_TSA_URL and not VIGIE_TSA_CA_FILE:
    raise ImproperlyConfigured(
        "Set VIGIE_TSA_CA_FILE with VIGIE_TSA_URL: a time-stamp is checked against the "
        "authority's certificates."
    )

# --- Caches and Redis -----------------------------------------------------------------------

# Redis carries the shared rate limits and breakers of every worker on every machine. Without
# it, the embedded default keeps them in a SQLite file of their own, VAR_DIR/limits.sqlite3
# (verifications/providers/limits), shared by the processes of one machine only.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------

# The embedded broker (no CELERY_BROKER_URL, no REDIS_URL): an SQLite file under var/,
# through admissions/infra/broker.py (kombu's SQLAlchemy transport, made safe for many producers
# and workers: kombu's filesystem transport, the previous default, lost and corrupted messages,
# issue #1551).
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default=REDIS_URL or f"sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
if CELERY_BROKER_URL.startswith("sqlite:"):
    from admissions.infra import broker as _broker

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = _broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(_broker.TRANSPORT_OPTIONS)
else:
    # With acks_late, a message not acknowledged within the visibility timeout is delivered
    # again. Long waits live in the database (`not_before`), so no countdown gets near this.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Tests run tasks in-process only where they say so; the worker tests start real workers.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Government APIs ------------------------------------------------------------------------

# Base URLs are each API's root as its provider documents its servers; clients append routes.
# An empty base URL disables the provider. In DEBUG they point at the local sandbox.
SANDBOX_URL = env("VIGIE_SANDBOX_URL", default="http://127.0.0.1:8001")


def _default_base_url(real: str, sandbox_path: str) -> str:
    return f"{SANDBOX_URL}{sandbox_path}" if DEBUG else real


API_PARTICULIER_BASE_URL = env(
    "API_PARTICULIER_BASE_URL",
    default=_default_base_url("https://particulier.api.gouv.fr", "/particulier"),
)
CVEC_BASE_URL = env(
    "CVEC_BASE_URL", default=_default_base_url("https://cvec-ctrl.etudiant.gouv.fr", "/cvec")
)
CERTIFINFO_BASE_URL = env(
    "CERTIFINFO_BASE_URL",
    default=_default_base_url("https://api-certifinfo.intercariforef.org", "/certifinfo"),
)
COVOITURAGE_BASE_URL = env(
    "COVOITURAGE_BASE_URL",
    default=_default_base_url("https://api.covoiturage.beta.gouv.fr/v3.2", "/covoiturage/v3.2"),
)

# The sandbox's public development token (a JWT valid until 2036, all MEN scopes). Real
# tokens come from particulier.api.gouv.fr/compte and are stored per institution, encrypted.
_SANDBOX_PARTICULIER_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOiJ2aWdpZS1zYW5kYm94LWRlZmF1bHQiLCJqdGkiOiI5"  # noqa: S105
    "YjBjMWYyZS04ZDdhLTRjNTUtOWU2MS0yZjNiOGMxZDRhNzAiLCJpYXQiOjE3NjcyMjU2MDAsImV4cCI6MjA4Mjc1"
    "ODQwMCwic2NvcGVzIjpbIm1lbl9zdGF0dXRfaWRlbnRpdGUiLCJtZW5fc3RhdHV0X3Njb2xhcml0ZSIsIm1lbl9z"
    "dGF0dXRfZXRhYmxpc3NlbWVudCIsIm1lbl9zdGF0dXRfbW9kdWxlX2VsZW1lbnRhaXJlX2Zvcm1hdGlvbiIsIm1l"
    "bl9zdGF0dXRfYm91cnNpZXIiLCJtZW5fZWNoZWxvbl9ib3Vyc2UiXX0.ngMWnvglXjCpstEMG7uX0BIrfV6u1JPX"
    "EPXg5psq7yE"
)
_SANDBOX_CERTIFINFO_TOKEN = "vigie-sandbox-certifinfo"  # noqa: S105 - public sandbox value
API_PARTICULIER_TOKEN = env(
    "API_PARTICULIER_TOKEN", default=_SANDBOX_PARTICULIER_TOKEN if DEBUG else ""
)
API_PARTICULIER_RECIPIENT = env("API_PARTICULIER_RECIPIENT", default="")
API_PARTICULIER_VERSION = env("API_PARTICULIER_VERSION", default="v4")
API_PARTICULIER_TIMEOUT = env.float("API_PARTICULIER_TIMEOUT", default=5.0)
CVEC_TIMEOUT = env.float("CVEC_TIMEOUT", default=10.0)
CERTIFINFO_TOKEN = env("CERTIFINFO_TOKEN", default=_SANDBOX_CERTIFINFO_TOKEN if DEBUG else "")
CERTIFINFO_TIMEOUT = env.float("CERTIFINFO_TIMEOUT", default=10.0)
COVOITURAGE_TOKEN = env("COVOITURAGE_TOKEN", default="")
COVOITURAGE_TIMEOUT = env.float("COVOITURAGE_TIMEOUT", default=10.0)

# --- Verification pipeline ------------------------------------------------------------------

# How long a worker owns a running request before another may take it over: longer than the
# slowest call (timeouts above) plus the in-process wait for a rate-limit slot.
VERIFICATION_LEASE = timedelta(seconds=env.int("VERIFICATION_LEASE_SECONDS", default=60))
# Bounded retries of failures that may go away (timeouts, 5xx): exponential backoff with
# jitter from BASE up to MAX seconds, at most MAX_FAILURES calls, and never longer than
# GIVE_UP_AFTER since the first failure; then the verdict is "unavailable".
VERIFICATION_MAX_FAILURES = env.int("VERIFICATION_MAX_FAILURES", default=5)
VERIFICATION_RETRY_BASE_SECONDS = env.float("VERIFICATION_RETRY_BASE_SECONDS", default=2.0)
VERIFICATION_RETRY_MAX_SECONDS = env.float("VERIFICATION_RETRY_MAX_SECONDS", default=300.0)
VERIFICATION_GIVE_UP_AFTER = timedelta(
    seconds=env.int("VERIFICATION_GIVE_UP_AFTER_SECONDS", default=1800)
)
# API Particulier's 409 00015 ("the same request is still running"): wait about a minute.
VERIFICATION_CONFLICT_DELAY_SECONDS = env.float("VERIFICATION_CONFLICT_DELAY_SECONDS", default=60.0)
# A worker waits in-process for a rate-limit slot at most this long; longer waits go back to
# the database (`not_before`) and the dispatcher sends the request again when it is due.
VERIFICATION_MAX_INPROCESS_WAIT = env.float("VERIFICATION_MAX_INPROCESS_WAIT", default=2.0)
# The dispatcher (a beat tick every 2 s, admissions/celery.py) keeps about this many seconds of
# work per source in the broker.
VERIFICATION_DISPATCH_LOOKAHEAD = env.float("VERIFICATION_DISPATCH_LOOKAHEAD", default=4.0)
# A pending row whose task message was sent longer ago than this was lost: send it again.
VERIFICATION_STALE_ENQUEUE = timedelta(
    seconds=env.int("VERIFICATION_STALE_ENQUEUE_SECONDS", default=60)
)
# The back-office lists as stuck a pending request still not sent this long after it was due.
VERIFICATION_STUCK_PENDING = timedelta(
    seconds=env.int("VERIFICATION_STUCK_PENDING_SECONDS", default=1800)
)

# --- One beat (admissions/infra/beat.py), broker reconnection -------------------------------------
# Only the beat holding the beat lock sends the schedule; another stands by and takes over
# within TTL + RENEW seconds once the holder stops renewing. The lock lives in Redis (REDIS_URL),
# else in PostgreSQL (an advisory lock), else in VAR_DIR/beat-lock.sqlite3: VIGIE_BEAT_LOCK=auto,
# or redis, postgres, file, off.
VIGIE_BEAT_LOCK = env("VIGIE_BEAT_LOCK", default="auto")
VIGIE_BEAT_LOCK_TTL_SECONDS = env.float("VIGIE_BEAT_LOCK_TTL_SECONDS", default=30.0)
VIGIE_BEAT_LOCK_RENEW_SECONDS = env.float("VIGIE_BEAT_LOCK_RENEW_SECONDS", default=5.0)
# Workers retry a lost broker connection this often (admissions/infra/worker.py; Celery's own
# back-off grows to 30 s, which a broker outage would cost on top of its own length).
VIGIE_BROKER_RECONNECT_SECONDS = env.float("VIGIE_BROKER_RECONNECT_SECONDS", default=1.0)
# --- end of one beat and broker reconnection -------------------------------------------------

# --- Verification pipeline: shared rate limits and circuit breakers -------------------------
# (verifications/providers/limits) One budget per source, per token and per egress identity,
# shared by every worker on every machine through Redis (REDIS_URL), or by the processes of one
# machine through VAR_DIR/limits.sqlite3 without it. Each scope holds (requests, seconds)
# pairs: no window of that length, however aligned, ever sees more grants. Override one scope
# with VERIFICATION_RATE_LIMIT_<SOURCE>_<SCOPE>, e.g. VERIFICATION_RATE_LIMIT_API_PARTICULIER_
# TOKEN=20/1s (several: "20/1s,600/1m"; "off": no limit in that scope).
_DEFAULT_RATE_LIMITS = {
    # Published: 20 requests/s per token, 1,000 requests/min per IP
    # (docs/api/api-particulier.md §Rate limits). The
    # per-endpoint limit and remaining budget come from the RateLimit-* headers at run time.
    "api_particulier": {"token": [(20, 1.0)], "ip": [(1000, 60.0)]},
    # No documented limit (docs/api/cvec.md §Rate limits, docs/api/certifinfo.md §Rate limits and
    # freshness): conservative choices of ours, for all
    # machines together.
    "cvec": {"source": [(5, 1.0), (200, 60.0)]},
    "certifinfo": {"source": [(5, 1.0), (200, 60.0)]},
    # 100 requests per 5 minutes per client IP (docs/api/covoiturage.md §Rate limits).
    "covoiturage": {"ip": [(100, 300.0)]},
}
_RATE_RE = re.compile(r"^(\d+)/(\d*\.?\d*)(ms|s|m|min|h)?$")
_RATE_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def _rates_from_env(name: str, value: str) -> list[tuple[int, float]]:
    """``"20/1s,1000/1m"`` → ``[(20, 1.0), (1000, 60.0)]``; ``"off"`` → ``[]``."""
    rates = []
    for part in value.replace(" ", "").lower().split(","):
        if part in ("", "off"):
            continue
        match = _RATE_RE.match(part)
        if not match or float(match[2] or 1) <= 0 or int(match[1]) < 1:
            raise ImproperlyConfigured(f"{name}: expected e.g. 20/1s or 1000/1m, got {part!r}")
        rates.append((int(match[1]), float(match[2] or 1) * _RATE_UNITS[match[3] or "s"]))
    return rates


VERIFICATION_RATE_LIMITS = {
    source: {
        scope: _rates_from_env(var, env.str(var))
        if (var := f"VERIFICATION_RATE_LIMIT_{source}_{scope}".upper()) in env.ENVIRON
        else scopes.get(scope, [])
        for scope in ("source", "token", "ip")
    }
    for source, scopes in _DEFAULT_RATE_LIMITS.items()
}
# Added to every window to absorb the jitter between a grant and its arrival upstream (a limit
# of 20/1s is kept as 20 per 1.03 s: 3% of the throughput of a 1-second window, 0.05% of a
# 1-minute one).
VERIFICATION_RATE_LIMIT_MARGIN = env.float("VERIFICATION_RATE_LIMIT_MARGIN_SECONDS", default=0.03)
# What "per IP" means: this machine's egress identity. Machines that share one public address
# (NAT) must share one VIGIE_EGRESS_ID.
VIGIE_EGRESS_ID = env("VIGIE_EGRESS_ID", default=socket.gethostname())
# A source's breaker measures the source, not the requests: over the last WINDOW_SECONDS each
# request counts once, with its latest outcome, and the breaker opens when at least
# FAILURE_THRESHOLD distinct requests failed (5xx, timeouts) and they are at least
# FAILURE_SHARE (a fraction, 0.5 = half) of the requests with an outcome in the window; the same
# few requests failing again and again never open it while the source answers others. It stays
# open OPEN_SECONDS (doubling at each failed probe, up to MAX_OPEN_SECONDS), then lets one probe
# through; another probe is allowed if the first has not reported after PROBE_SECONDS.
VERIFICATION_BREAKER_FAILURE_THRESHOLD = env.int(
    "VERIFICATION_BREAKER_FAILURE_THRESHOLD", default=5
)
VERIFICATION_BREAKER_WINDOW_SECONDS = env.float("VERIFICATION_BREAKER_WINDOW_SECONDS", default=60.0)
VERIFICATION_BREAKER_FAILURE_SHARE = env.float("VERIFICATION_BREAKER_FAILURE_SHARE", default=0.5)
# A request given up because it failed alone (the source answering others) is set aside this
# long: its later failures (a re-run, a scheduled re-check of the claim) never open the breaker.
VERIFICATION_BREAKER_SET_ASIDE_SECONDS = env.float(
    "VERIFICATION_BREAKER_SET_ASIDE_SECONDS", default=86400.0
)
VERIFICATION_BREAKER_OPEN_SECONDS = env.float("VERIFICATION_BREAKER_OPEN_SECONDS", default=30.0)
VERIFICATION_BREAKER_MAX_OPEN_SECONDS = env.float(
    "VERIFICATION_BREAKER_MAX_OPEN_SECONDS", default=600.0
)
VERIFICATION_BREAKER_PROBE_SECONDS = env.float("VERIFICATION_BREAKER_PROBE_SECONDS", default=30.0)
# --- end of shared rate limits and circuit breakers -----------------------------------------

# --- E-mail ---------------------------------------------------------------------------------

MAILERS = {
    "default": {
        "BACKEND": env(
            "DJANGO_EMAIL_BACKEND",
            default="django.core.mail.backends.console.EmailBackend"
            if DEBUG
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
        "OPTIONS": (
            {}
            if DEBUG
            else {
                "host": env("DJANGO_EMAIL_HOST", default="localhost"),
                "port": env.int("DJANGO_EMAIL_PORT", default=25),
                "username": env("DJANGO_EMAIL_USER", default=""),
                "password": env("DJANGO_EMAIL_PASSWORD", default=""),
                "use_tls": env.bool("DJANGO_EMAIL_USE_TLS", default=False),
            }
        ),
    },
}
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="vigie@localhost")
# The address of the web interface, for links in e-mails (verdict changes, token expiry).
VIGIE_SITE_URL = env("VIGIE_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Logging --------------------------------------------------------------------------------

# Logs never carry personal data: identities, INE, birth dates and tokens stay out of messages.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "redact_query": {"()": "admissions.infra.log_filters.RedactQueryStrings"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs full URLs, and API Particulier URLs carry identities in the query (a
        # filter also scrubs them: verifications/providers/http.py).
        "urllib3": {"level": "WARNING"},
        # Even with DJANGO_LOG_LEVEL=DEBUG: SQL parameters (names, INE, birth dates) and
        # template contexts stay out of the logs.
        "django.db.backends": {"level": "INFO"},
        "django.template": {"level": "INFO"},
        # runserver's request lines: a search is ?q=<a name>.
        "django.server": {"filters": ["redact_query"]},
    },
}

# --- Operations: health, metrics, structured logs (admissions/ops, docs/DEPLOYMENT.md) ------

# The request id first (every answer carries X-Request-ID, every log record its id); the probes
# and the HTTP metrics right after no-store, before the session (a probe never reads or writes
# one); the user's ids into the log context last, once the session has loaded the user.
MIDDLEWARE.insert(0, "admissions.ops.middleware.RequestIdMiddleware")
_after_no_store = MIDDLEWARE.index("admissions.infra.session_security.NoStoreMiddleware") + 1
MIDDLEWARE[_after_no_store:_after_no_store] = [
    "admissions.ops.middleware.HttpMetricsMiddleware",
    "admissions.ops.middleware.ProbeMiddleware",
]
MIDDLEWARE.append("admissions.ops.middleware.LogUserMiddleware")

# Load balancers and Prometheus often probe gunicorn over plain HTTP, inside the network: no
# redirect to HTTPS for these three (nothing personal in their answers).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# /readyz answers 503 when one of these checks fails; the others (the dispatcher's last tick,
# "sources": the breakers) only make it "degraded", with 200 (docs/DEPLOYMENT.md).
VIGIE_READYZ_REQUIRED = env.list(
    "VIGIE_READYZ_REQUIRED", default=["database", "migrations", "cache", "broker"]
)
# The dispatcher (beat's verifications.dispatch, every 2 s) must have run this recently.
VIGIE_READYZ_DISPATCH_MAX_AGE = env.float("VIGIE_READYZ_DISPATCH_MAX_AGE_SECONDS", default=60.0)
# /metrics: off (404) unless a bearer token or a network allow-list (CIDRs) is set; with both,
# both are required.
VIGIE_METRICS_TOKEN = env("VIGIE_METRICS_TOKEN", default="")
VIGIE_METRICS_ALLOWED_NETWORKS = env.list("VIGIE_METRICS_ALLOWED_NETWORKS", default=[])
for _cidr in VIGIE_METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"VIGIE_METRICS_ALLOWED_NETWORKS: {_cidr!r}") from _error
# Every gunicorn and Celery process of the machine writes its counters here, and /metrics adds
# them up (prometheus_client's multiprocess mode); at each process start the files of ended
# processes are folded into one archive per type, totals unchanged (admissions/ops/metrics_dir.py).
# One directory per machine (or container), never shared between machines.
# Set before prometheus_client is imported (it reads the variable at import).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
VIGIE_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
if VIGIE_METRICS_DIR:
    from admissions.ops.metrics_dir import prepare as _prepare_metrics_dir

    _prepare_metrics_dir(VIGIE_METRICS_DIR)

# VIGIE_LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request id,
# user and institution ids, task id, verification request id, source and upstream request id
# of provider calls). "plain" (the default) is the human-readable line above. Both carry the
# ids (LogContext) and the same redaction.
VIGIE_LOG_FORMAT = env("VIGIE_LOG_FORMAT", default="plain")
if VIGIE_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("VIGIE_LOG_FORMAT: expected plain or json")
LOGGING["formatters"]["json"] = {"()": "admissions.ops.jsonlog.JsonFormatter"}
LOGGING["filters"]["log_context"] = {"()": "admissions.ops.context.LogContext"}
LOGGING["handlers"]["console"]["formatter"] = VIGIE_LOG_FORMAT
LOGGING["handlers"]["console"]["filters"] = ["log_context"]
# --- end of operations ------------------------------------------------------------------------
