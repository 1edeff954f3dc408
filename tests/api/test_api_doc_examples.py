"""docs/API.md's examples run as written against a live server, with a key of a demo-like
institution in ``VIGIE_API_KEY`` and the server's address in ``VIGIE``: the ``bash`` blocks in
one shell, in order (curl), the ``python`` blocks in one Python process (requests). The ``sh``
block that sets the variables up for ``make run`` is not run: the test sets them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from admissions.enums import Role
from admissions.models import Applicant, AuditEvent
from tests.api.conftest import make_key
from tests.factories import InstitutionFactory, UserFactory
from verifications.models import Batch, VerificationRequest


DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == language]


def test_the_document_has_examples_of_both_kinds():
    assert len(blocks("bash")) >= 4
    assert all("curl" in block for block in blocks("bash"))
    assert len(blocks("python")) == 1


@pytest.fixture
def environment(live_server, transactional_db):
    admin = UserFactory(institution=InstitutionFactory(), role=Role.INSTITUTION_ADMIN)
    return {
        **os.environ,
        "VIGIE": live_server.url,
        "VIGIE_API_KEY": make_key(admin, name="Démo").secret,
    }


def test_the_curl_examples_run_as_written(environment):
    script = "set -euo pipefail\n" + "\n".join(blocks("bash"))
    done = subprocess.run(
        ["bash", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    applicant = Applicant.objects.get(file_reference="DOC-001")
    assert applicant.claims.count() == 1
    assert VerificationRequest.objects.filter(claim__applicant=applicant).count() == 1
    assert Batch.objects.filter(label="Documentation").exists()
    assert '"action": "verification_requested"' in done.stdout
    assert AuditEvent.objects.filter(purpose__startswith="lecture des preuves").exists()


def test_the_python_example_runs_as_written(environment):
    done = subprocess.run(
        [sys.executable, "-c", blocks("python")[0]],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit events" in done.stdout
    applicant = Applicant.objects.get(file_reference="DOC-002")
    assert VerificationRequest.objects.filter(claim__applicant=applicant).exists()
