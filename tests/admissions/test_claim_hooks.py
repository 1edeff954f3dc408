"""The applicant domain records claims through hooks the verification domain registers at start
(``admissions/claim_hooks.py``): registered in every process, before any request or task."""

import subprocess
import sys
from pathlib import Path

from admissions.claim_hooks import claim_hooks
from verifications.services.claims import ClaimHooks


def test_the_verification_domain_registered_its_claim_hooks():
    assert isinstance(claim_hooks(), ClaimHooks)


def test_a_fresh_django_process_has_them_registered():
    code = (
        "import django; django.setup(); from admissions.claim_hooks import claim_hooks; "
        "print(type(claim_hooks()).__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "verifications.services.claims", out.stderr
