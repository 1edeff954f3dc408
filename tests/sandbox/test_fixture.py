"""The fixtures other test packages use to reach the sandbox."""

from datetime import date

import requests

from sandbox import tokens
from tests.sandbox.support import TIMEOUT, scolarite_params


def test_sandbox_settings_point_vigie_at_a_fresh_sandbox(sandbox_settings, settings):
    sandbox_settings.configure(latency_ms=1)
    requests.get(f"{settings.CVEC_BASE_URL}/api/attestation/X", timeout=TIMEOUT)

    base = sandbox_settings.url
    assert {
        name: getattr(settings, name)
        for name in (
            "API_PARTICULIER_BASE_URL",
            "CVEC_BASE_URL",
            "CERTIFINFO_BASE_URL",
            "COVOITURAGE_BASE_URL",
        )
    } == {
        "API_PARTICULIER_BASE_URL": f"{base}/particulier",
        "CVEC_BASE_URL": f"{base}/cvec",
        "CERTIFINFO_BASE_URL": f"{base}/certifinfo",
        "COVOITURAGE_BASE_URL": f"{base}/covoiturage/v3.2",
    }
    assert settings.API_PARTICULIER_TOKEN == tokens.DEFAULT_TOKEN
    assert sandbox_settings.stats()["total"]["requests"] == 1


def test_each_test_starts_from_default_knobs_and_zero_stats(sandbox_settings, settings):
    assert sandbox_settings.knobs()["latency_ms"] == 0
    assert sandbox_settings.stats()["total"]["requests"] == 0

    params = scolarite_params("MARTIN", ["EMMA"], "F", date(2012, 8, 15), "0132733A", 2025)
    response = requests.get(
        f"{settings.API_PARTICULIER_BASE_URL}/v4/men/scolarites/identite",
        params=params,
        headers={"Authorization": f"Bearer {settings.API_PARTICULIER_TOKEN}"},
        timeout=TIMEOUT,
    )
    covoiturage = requests.get(
        f"{settings.COVOITURAGE_BASE_URL}/certificates/9415300a-7a51-4296-96d1-68636e46485d",
        timeout=TIMEOUT,
    )
    certifinfo = requests.get(
        f"{settings.CERTIFINFO_BASE_URL}/certification",
        params={"id": 90001},
        headers={"token-connexion": settings.CERTIFINFO_TOKEN},
        timeout=TIMEOUT,
    )

    assert (response.status_code, covoiturage.status_code, certifinfo.status_code) == (
        200,
        200,
        200,
    )
