"""The applicant domain records claims through hooks the verification domain registers at start
(``admissions/claim_hooks.py``), and its audit trail says verdicts through the words it registers
(``admissions/audit_words.py``'s ``ClaimWords``): registered in every process, before any
request or task."""

import subprocess
import sys
from pathlib import Path

from admissions import audit_words
from admissions.claim_hooks import claim_hooks
from verifications.enums import ClaimKind, Verdict
from verifications.services.claims import ClaimHooks


def test_the_verification_domain_registered_its_claim_hooks():
    assert isinstance(claim_hooks(), ClaimHooks)


def test_the_verification_domain_registered_its_words_for_the_trail():
    summary = audit_words.details_summary({"kind": "cvec", "verdict": "confirmed"})
    assert summary == f"{ClaimKind.CVEC.label} · {Verdict.CONFIRMED.label}"


def test_a_fresh_django_process_has_them_registered():
    code = (
        "import django; django.setup(); from admissions.claim_hooks import claim_hooks; "
        "from admissions.audit_words import details_summary; "
        "print(type(claim_hooks()).__module__, details_summary({'verdict': 'confirmed'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "verifications.services.claims Confirmé", out.stderr
