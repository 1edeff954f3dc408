"""The GDPR export as a page the applicant can read and print: the same records as the JSON,
in words, and recorded in the audit trail as an export in "html"."""

import pytest
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import CvecOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import ClaimKind


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]


def test_the_export_page_shows_the_applicants_records_in_words_and_is_recorded(client):
    institution = InstitutionFactory()
    supervisor = UserFactory(institution=institution, supervisor=True)
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    run_until_done(request_for(claim))
    applicant = claim.applicant
    client.force_login(supervisor)

    detail = client.get(reverse("applicant_detail", args=[applicant.pk])).text
    assert reverse("applicant_export_page", args=[applicant.pk]) in detail
    response = client.get(reverse("applicant_export_page", args=[applicant.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-store"
    page = response.text
    assert f"Données de {applicant.display_name}" in page
    assert institution.name in page
    assert applicant.birth_date.strftime("%d/%m/%Y") in page
    assert "CVEC — Confirmé" in page
    assert "attestation valide (code" in page  # the source's answer, in words
    assert "Vérification demandée" in page  # the audit trail, in words
    assert "Export RGPD" in page
    event = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert event.details["format"] == "html"
    assert event.actor == supervisor


def test_clerks_do_not_get_the_export_page(client):
    institution = InstitutionFactory()
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    client.force_login(UserFactory(institution=institution))
    response = client.get(reverse("applicant_export_page", args=[claim.applicant_id]))
    assert response.status_code == 403
