"""`manage.py verify`: same providers and verdicts, JSON out, exit 2 on invalid input."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import InstitutionFactory


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]
ROOT = Path(__file__).resolve().parents[2]


def verify(*args: str) -> dict:
    out = io.StringIO()
    call_command("verify", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_scolarite_published_staging_identity(settings):
    institution = InstitutionFactory()
    result = verify(
        "scolarite",
        "--nom",
        "MARTIN",
        "--prenoms",
        "EMMA",
        "--sexe",
        "F",
        "--date-naissance",
        "2012-08-15",
        "--uai",
        "0132733A",
        "--annee-scolaire",
        "2025",
        "--institution",
        institution.siret,
    )
    assert result["kind"] == "scolarite"
    assert result["verdict"] == "confirmed"
    assert result["source"]["http_status"] == 200
    assert result["source"]["name"] == "api_particulier"
    assert {row["field"] for row in result["diff"]} >= {"uai", "school_year"}
    assert "enrolled" in result["reason"]  # English in the CLI
    event = AuditEvent.objects.get(action=AuditAction.VERDICT_RECORDED, object_type="cli_check")
    assert event.institution == institution
    assert event.details["verdict"] == "confirmed"
    assert event.actor_label.startswith("cli:")


def test_given_names_with_a_space_stay_one_name():
    result = verify(
        "scolarite",
        "--nom",
        "Ronaldo",
        "--prenoms",
        "Marie Davida",
        "--sexe",
        "F",
        "--date-naissance",
        "16/05/2001",
        "--uai",
        "0782567S",
        "--annee-scolaire",
        "2025",
        "--institution",
        InstitutionFactory().siret,
    )
    assert result["verdict"] == "confirmed"


def test_not_found_is_not_a_false_claim():
    result = verify(
        "scolarite",
        "--nom",
        "Martin",
        "--prenoms",
        "Jerome",
        "--sexe",
        "M",
        "--date-naissance",
        "2000-01-20",
        "--uai",
        "0890003V",
        "--annee-scolaire",
        "2022",
        "--institution",
        InstitutionFactory().siret,
    )
    assert result["verdict"] == "not_found"
    assert result["source"]["error_code"] == "30003"


def test_other_kinds():
    from sandbox.population import CovoiturageOutcome, CvecOutcome
    from tests.verifications.helpers import person_with

    p = person_with(cvec=CvecOutcome.VALID)
    assert verify("cvec", "--code", p.cvec_code, "--nom", p.birth_name)["verdict"] == "confirmed"
    assert (
        verify("certification", "--code", "RNCP35185", "--niveau-min", "5")["verdict"]
        == "confirmed"
    )
    expired = person_with(covoiturage=CovoiturageOutcome.EXPIRED)
    assert verify("covoiturage", "--uuid", expired.covoiturage_uuid)["verdict"] == "contradicted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "scolarite",
                "--nom",
                "MARTIN",
                "--prenoms",
                "EMMA",
                "--sexe",
                "F",
                "--date-naissance",
                "2012-08-15",
                "--uai",
                "0132733B",
                "--annee-scolaire",
                "2025",
            ],
            "--uai: The UAI code “0132733B” is invalid: its check letter should be “A”.",
        ),
        (["covoiturage", "--uuid", "not-a-uuid"], "--uuid: The attestation identifier"),
        (["certification", "--code", "ABC"], "--code: The certification code"),
    ],
)
def test_invalid_input_exits_2_with_one_line_and_sends_nothing(sandbox_settings, args, message):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "API_PARTICULIER_BASE_URL": sandbox_settings.particulier_url,
        "COVOITURAGE_BASE_URL": sandbox_settings.covoiturage_url,
        "CERTIFINFO_BASE_URL": sandbox_settings.certifinfo_url,
        "API_PARTICULIER_RECIPIENT": "13002526500013",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "verify", *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert sandbox_settings.stats()["total"]["requests"] == 0
