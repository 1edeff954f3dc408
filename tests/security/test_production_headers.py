"""The security headers with production settings (DEBUG off, the environment of
tests/test_settings.py): HSTS on HTTPS, a redirect from HTTP, secure cookies, and the same strict
CSP, nosniff, Referrer-Policy and no-store as in the route matrix."""

import json

from tests.test_settings import PRODUCTION_ENV, _django


PROBE = """
import json
from django.conf import settings
from django.test import Client, override_settings
# Only the static files' storage differs: the manifest needs collectstatic, not this test.
storages = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    client = Client(HTTP_HOST="vigie.example.org")
    secure = client.get("/connexion/", secure=True)
    plain = client.get("/connexion/")
print(json.dumps({
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "csrf_cookie_secure": bool(secure.cookies["csrftoken"]["secure"]),
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location", ""),
}))
"""


def test_production_responses_carry_every_security_header():
    result = _django(PRODUCTION_ENV, PROBE)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    headers = probe["headers"]
    assert probe["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "script-src 'self' 'nonce-" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "no-store" in headers["Cache-Control"]
    assert probe["csrf_cookie_secure"] is True
    # Plain HTTP is sent to HTTPS.
    assert probe["plain_status"] == 301
    assert probe["plain_location"] == "https://vigie.example.org/connexion/"
