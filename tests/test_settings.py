"""Production settings are the same module with the environment set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k7#Qm2!vZp9@Lx4&Rt8^Wn3*Yb6(Hc1)Jd5-Fg0+Se7_Ua2=Ti9Ko4Ml8Nq1Pr6Vs3",
    "DJANGO_ALLOWED_HOSTS": "vigie.example.org",
    "FIELD_ENCRYPTION_KEY": "Jm2zQ3Yl9Zy7X9vJmV0nq2w0Jc8R6jK4g1Yw3oBq0Xo=",
    "VIGIE_SIGNING_KEYS": "HA5eVJ6FQ2mMiQ3y6cN0Dq1wC7s0qHqkX8qS8yx3b1U",
    "DATABASE_URL": "postgres://vigie@127.0.0.1:5432/vigie",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _django(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DJANGO_",
                "API_",
                "CVEC_",
                "CERTIFINFO_",
                "COVOITURAGE_",
                "FIELD_",
                "DATABASE_URL",
                "REDIS_URL",
                "CELERY_",
                "VIGIE_TSA_",
            )
        )
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "admissions.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_secret_key_is_required_without_debug():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _django(env, "")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_encryption_key_is_required_without_debug():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "FIELD_ENCRYPTION_KEY"}
    result = _django(env, "")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY" in result.stderr


def test_a_time_stamping_authority_needs_its_ca_file():
    env = {**PRODUCTION_ENV, "VIGIE_TSA_URL": "https://tsa.example.org/tsr"}
    result = _django(env, "")
    assert result.returncode != 0
    assert "Set VIGIE_TSA_CA_FILE with VIGIE_TSA_URL" in result.stderr
    result = _django(
        {**env, "VIGIE_TSA_CA_FILE": "/etc/vigie/tsa-ca.pem"},
        "from django.conf import settings as s; print(s.VIGIE_TSA_URL, s.VIGIE_TSA_TIMEOUT)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["https://tsa.example.org/tsr", "10.0"]


def test_production_points_at_the_real_apis_and_redis():
    result = _django(
        PRODUCTION_ENV,
        "from django.conf import settings as s; "
        "print(s.API_PARTICULIER_BASE_URL, s.CVEC_BASE_URL, s.CERTIFINFO_BASE_URL, "
        "s.COVOITURAGE_BASE_URL, s.CELERY_BROKER_URL, s.DATABASES['default']['ENGINE'], "
        "repr(s.API_PARTICULIER_TOKEN), s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "https://particulier.api.gouv.fr",
        "https://cvec-ctrl.etudiant.gouv.fr",
        "https://api-certifinfo.intercariforef.org",
        "https://api.covoiturage.beta.gouv.fr/v3.2",
        "redis://127.0.0.1:6379/0",
        "django.db.backends.postgresql",
        "''",
        "True",
        "31536000",
    ]


def test_embedded_defaults_need_nothing_installed(tmp_path):
    result = _django(
        {"VIGIE_VAR_DIR": str(tmp_path)},
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, "
        "s.API_PARTICULIER_BASE_URL, s.LANGUAGE_CODE, s.TIME_ZONE, s.CELERY_BROKER_TRANSPORT)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "django.db.backends.sqlite3",
        f"sqlite:///{tmp_path / 'celery-broker.sqlite3'}",  # infra/broker.py, not files
        "http://127.0.0.1:8001/particulier",
        "fr",
        "Europe/Paris",
        "admissions.infra.broker:Transport",
    ]


def test_an_explicit_broker_url_wins_over_the_embedded_broker(tmp_path):
    for env, expected in (
        ({"CELERY_BROKER_URL": "redis://10.0.0.9:6379/3"}, "redis://10.0.0.9:6379/3"),
        ({"REDIS_URL": "redis://10.0.0.8:6379/0"}, "redis://10.0.0.8:6379/0"),
    ):
        result = _django(
            {"VIGIE_VAR_DIR": str(tmp_path), **env},
            "from django.conf import settings as s; "
            "print(s.CELERY_BROKER_URL, getattr(s, 'CELERY_BROKER_TRANSPORT', None), "
            "s.CELERY_BROKER_TRANSPORT_OPTIONS)",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{expected} None {{'visibility_timeout': 3600}}"


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            **PRODUCTION_ENV,
            "DJANGO_SETTINGS_MODULE": "admissions.settings",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
