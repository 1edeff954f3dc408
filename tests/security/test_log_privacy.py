"""Logs never hold personal data or secrets.

One full flow against the real sandbox over HTTP, with every logger at DEBUG (urllib3 and
requests included, which log request lines): an applicant's four claims verified by the
pipeline, their page opened, the CLI ``verify``, and a 401 from the sandbox. Then no log record
may contain a token, an INE, a birth date (ISO, French, or as the split day/month/year query
parameters API Particulier receives), a name, a name parameter, or an attestation code.
"""

import io
import logging

import pytest
from django.core.management import call_command
from django.urls import reverse

from sandbox import tokens
from sandbox.population import (
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import ClaimKind, Source, Verdict
from verifications.models import InstitutionCredential


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

BAD_TOKEN = "vigie-invalid-token-4f9c2a7e1b"  # what the sandbox refuses with 401


def _forbidden_strings(people, settings) -> dict[str, str]:
    """What must never appear in a log, with a label saying why."""
    found: dict[str, str] = {
        settings.API_PARTICULIER_TOKEN: "API Particulier token",
        settings.CERTIFINFO_TOKEN: "Certif Info token",
        BAD_TOKEN: "institution token",
        "nomNaissance=": "name in a query string",
        "prenoms": "given names parameter",
        "DateNaissance=": "split birth date parameter",
        "etudiant=": "CVEC holder parameter",
    }
    for p in people:
        d = p.birth_date
        found[d.isoformat()] = "birth date (ISO)"
        found[d.strftime("%d/%m/%Y")] = "birth date (French)"
        found[d.strftime("%Y%m%d")] = "birth date (compact)"
        if p.ine:
            found[p.ine] = "INE"
        for name in (p.birth_name, p.usage_name, *p.first_names):
            if name and len(name) >= 4:
                found[name] = "name"
        if p.cvec_code:
            found[p.cvec_code] = "CVEC attestation code"
        if p.covoiturage_uuid:
            found[p.covoiturage_uuid] = "covoiturage attestation"
    return {k: v for k, v in found.items() if k}


def _log_text(caplog) -> str:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    lines = [handler.format(record) for record in caplog.records]
    return "\n".join(lines)


def test_a_full_verification_flow_logs_no_personal_data(caplog, settings, client):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "verifications", "admissions", "django", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)

    institution = InstitutionFactory()
    clerk = UserFactory(institution=institution)
    people = [
        person_with(scolarite=ScolariteOutcome.ENROLLED),
        person_with(cvec=CvecOutcome.VALID),
        person_with(certification=CertificationOutcome.ACTIVE),
        person_with(covoiturage=CovoiturageOutcome.OK),
    ]
    kinds = [ClaimKind.SCOLARITE, ClaimKind.CVEC, ClaimKind.CERTIFICATION, ClaimKind.COVOITURAGE]
    verdicts = []
    for p, kind in zip(people, kinds, strict=True):
        claim = claim_for(p, kind, institution)
        verdicts.append(run_until_done(request_for(claim, clerk)).verdict)
        client.force_login(clerk)
        page = client.get(reverse("applicant_detail", args=[claim.applicant_id]))
        assert page.status_code == 200
        assert p.birth_name in page.text  # the page shows it; the logs must not
    assert verdicts == [Verdict.CONFIRMED] * 4

    # The CLI, on the same person.
    scolaire = people[0]
    out = io.StringIO()
    call_command(
        "verify",
        "scolarite",
        "--nom",
        scolaire.birth_name,
        "--prenoms",
        *scolaire.first_names,
        "--sexe",
        scolaire.sex,
        "--date-naissance",
        scolaire.birth_date.isoformat(),
        "--uai",
        scolaire.uai,
        "--annee-scolaire",
        str(scolaire.school_year),
        "--institution",
        institution.siret,
        "--json",
        stdout=out,
    )
    assert '"verdict": "confirmed"' in out.getvalue()

    # A 401: another institution whose stored token the sandbox refuses.
    refused = InstitutionFactory()
    InstitutionCredential.objects.create(
        institution=refused, source=Source.API_PARTICULIER, token=BAD_TOKEN, fingerprint="x"
    )
    rejected = run_until_done(request_for(claim_for(people[0], ClaimKind.SCOLARITE, refused)))
    assert rejected.verdict == Verdict.REJECTED

    text = _log_text(caplog)
    # The capture saw the HTTP layer at DEBUG: otherwise this test would prove nothing.
    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG for r in caplog.records)
    assert "source api_particulier refused institution" in text
    leaks = [
        f"{label}: {value!r}"
        for value, label in _forbidden_strings([*people], settings).items()
        if value in text
    ]
    assert not leaks, "personal data or secrets in the logs:\n" + "\n".join(leaks) + "\n" + text


def test_the_forbidden_list_would_catch_a_leak(settings):
    """The check above is not vacuous: the strings it looks for are real and would match."""
    p = person_with(scolarite=ScolariteOutcome.ENROLLED)
    forbidden = _forbidden_strings([p], settings)
    assert p.ine in forbidden
    assert p.birth_date.isoformat() in forbidden
    assert tokens.DEFAULT_TOKEN in forbidden
    leaked = f"GET /v4/men/scolarites/identite?nomNaissance={p.birth_name}"
    assert any(value in leaked for value in forbidden)
