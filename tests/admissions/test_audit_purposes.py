"""The purposes Vigie writes into the audit trail read in the reader's language (issue 15: in
English, audit purposes stayed French). Generated from the code: every purpose it writes, a
``*PURPOSE = "..."`` constant or a ``purpose="..."`` argument, must be in
``admissions.audit_purposes.SYSTEM_PURPOSES``."""

import ast
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from admissions.audit import audit_record
from admissions.audit_purposes import SYSTEM_PURPOSES, purpose_text
from admissions.enums import AuditAction
from tests.factories import ApplicantFactory, InstitutionFactory, UserFactory


ROOT = Path(__file__).resolve().parent.parent.parent


def purposes_in_code() -> dict[str, str]:
    """Each purpose literal the code writes, with where."""
    found = {}
    for package in ("admissions", "verifications", "api"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                constant = isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id.endswith("PURPOSE") for t in node.targets
                )
                argument = isinstance(node, ast.keyword) and node.arg == "purpose"
                value = node.value if constant or argument else None
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
                    found[value.value] = f"{path.relative_to(ROOT)}:{value.lineno}"
    return found


def test_the_walk_finds_the_purposes_of_the_code():
    found = purposes_in_code()
    assert "instruction du dossier d'admission" in found
    assert "droit d'accès (RGPD art. 15)" in found
    assert len(found) >= 10


def test_every_purpose_the_code_writes_is_translated_at_display():
    missing = {p: where for p, where in purposes_in_code().items() if p not in SYSTEM_PURPOSES}
    assert missing == {}, (
        f"purposes written without a translation: {missing}; add them to "
        "admissions/audit_purposes.py's SYSTEM_PURPOSES"
    )


def test_a_persons_own_words_stay_as_typed():
    with translation.override("en"):
        assert purpose_text("relu sur le bulletin") == "relu sur le bulletin"


@pytest.mark.django_db
def test_the_timeline_and_the_journal_show_vigies_purposes_in_english(client):
    institution = InstitutionFactory()
    supervisor = UserFactory(institution=institution, supervisor=True)
    applicant = ApplicantFactory(institution=institution)
    audit_record(
        action=AuditAction.VERIFICATION_REQUESTED,
        actor=None,
        institution=institution,
        obj=applicant,
        applicant_id=applicant.pk,
        purpose="re-vérification planifiée",
    )
    client.force_login(supervisor)
    client.cookies["django_language"] = "en"
    timeline = client.get(reverse("applicant_detail", args=[applicant.pk])).text
    journal = client.get(reverse("audit_list")).text
    for page in (timeline, journal):
        assert "scheduled re-verification" in page
        assert "re-vérification planifiée" not in page
