"""An applicant's right of access (JSON export) and right to erasure (through the purge's code
path), through the pages."""

import json

import pytest
from django.urls import reverse

from admissions.audit import audit_chains_verify
from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from sandbox.population import CvecOutcome
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.verifications.helpers import (
    claim_for,
    person_with,
    request_for,
    run_until_done,
    verdict_change_for,
)
from verifications.enums import ClaimKind, Verdict
from verifications.models import Claim, VerdictChange, VerificationAttempt, VerificationRequest


pytestmark = pytest.mark.django_db


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def supervisor(institution):
    return UserFactory(institution=institution, supervisor=True)


@pytest.fixture
def checked(institution):
    """An applicant with a claim checked against the sandbox (a request, attempts, events)."""
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    run_until_done(request_for(claim))
    return claim.applicant


@pytest.mark.usefixtures("sandbox_settings")
def test_export_holds_everything_about_the_applicant_and_is_recorded(checked, supervisor, client):
    other = ClaimFactory(applicant=ApplicantFactory(institution=checked.institution))
    client.force_login(supervisor)
    response = client.get(reverse("applicant_export", args=[checked.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert data["applicant"]["birth_name"] == checked.birth_name
    assert data["applicant"]["birth_date"] == checked.birth_date.isoformat()
    assert data["applicant"]["ine"] == checked.ine
    (claim,) = data["claims"]
    assert claim["kind"] == ClaimKind.CVEC
    (request,) = claim["requests"]
    assert request["verdict"] == Verdict.CONFIRMED
    assert request["evidence"]
    assert request["evidence_hash"]
    assert request["attempts"]
    assert request["attempts"][0]["http_status"] == 200
    actions = [event["action"] for event in data["audit_events"]]
    assert AuditAction.VERIFICATION_REQUESTED in actions
    assert AuditAction.VERDICT_RECORDED in actions
    assert actions[-1] == AuditAction.EXPORTED  # the export lists itself
    # Ids are compared with their type: a claim's or a request's id may equal another
    # applicant's.
    named = {(e["object_type"], str(e["object_id"])) for e in data["audit_events"]}
    assert not named & {("applicant", str(other.applicant_id)), ("claim", str(other.pk))}
    event = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert event.actor == supervisor
    assert event.applicant_id == checked.pk
    assert event.purpose == "droit d'accès (RGPD art. 15)"


@pytest.mark.usefixtures("sandbox_settings")
def test_erasure_removes_the_applicant_and_leaves_an_event_without_personal_data(
    checked, supervisor, client
):
    claim = checked.claims.get()
    request_ids = list(VerificationRequest.objects.filter(claim=claim).values_list("id", flat=True))
    events_before = AuditEvent.objects.filter(applicant_id=checked.pk).count()
    client.force_login(supervisor)
    url = reverse("applicant_erase", args=[checked.pk])
    assert client.get(url).status_code == 200

    # A justification is required, and the confirmation; French messages.
    refused = client.post(url, {"justification": "court"})
    assert refused.status_code == 400
    assert "Ce champ est obligatoire." in refused.text
    refused = client.post(url, {"justification": "court", "confirm": "on"})
    assert "10 caractères au moins" in refused.text
    assert Applicant.objects.filter(pk=checked.pk).exists()

    response = client.post(
        url, {"justification": "Demande du candidat reçue le 12/10", "confirm": "on"}
    )
    assert response.status_code == 302
    assert not Applicant.objects.filter(pk=checked.pk).exists()
    assert not Claim.objects.filter(pk=claim.pk).exists()
    assert not VerificationRequest.objects.filter(pk__in=request_ids).exists()
    assert not VerificationAttempt.objects.filter(request_id__in=request_ids).exists()
    # The trail stays (ids, no personal data), with the erasure at its end, and verifies.
    assert AuditEvent.objects.filter(applicant_id=checked.pk).count() == events_before + 1
    event = AuditEvent.objects.get(action=AuditAction.ERASED)
    assert event.actor == supervisor
    assert event.details == {
        "claims": 1,
        "requests": len(request_ids),
        "attempts": event.details["attempts"],
        "justification_length": len("Demande du candidat reçue le 12/10"),
    }
    text = json.dumps(event.details) + event.purpose + event.object_id
    for personal in (checked.birth_name, checked.first_names[0], checked.ine, "12/10"):
        assert personal not in text
    assert all(not r.breaks for r in audit_chains_verify())


def test_erasure_waits_for_a_check_under_way(institution, supervisor, client):
    claim = ClaimFactory(applicant=ApplicantFactory(institution=institution))
    VerificationRequest.objects.create(
        institution=institution, claim=claim, source="cvec", trigger="manual", state="running"
    )
    client.force_login(supervisor)
    response = client.post(
        reverse("applicant_erase", args=[claim.applicant_id]),
        {"justification": "Demande du candidat reçue", "confirm": "on"},
    )
    assert response.status_code == 400
    assert "vérification de ce candidat est en cours" in response.text
    assert Applicant.objects.filter(pk=claim.applicant_id).exists()


def test_erasure_also_removes_verdict_change_notices(institution, supervisor, client):
    claim = verdict_change_for(institution).claim
    client.force_login(supervisor)
    client.post(
        reverse("applicant_erase", args=[claim.applicant_id]),
        {"justification": "Demande du candidat reçue", "confirm": "on"},
    )
    assert not VerdictChange.objects.exists()
    assert not Applicant.objects.filter(pk=claim.applicant_id).exists()


def test_clerks_may_neither_export_nor_erase(institution, client):
    applicant = ApplicantFactory(institution=institution)
    client.force_login(UserFactory(institution=institution))
    assert client.get(reverse("applicant_export", args=[applicant.pk])).status_code == 403
    erase = reverse("applicant_erase", args=[applicant.pk])
    assert client.get(erase).status_code == 403
    assert client.post(erase, {"justification": "x" * 20, "confirm": "on"}).status_code == 403
    assert Applicant.objects.filter(pk=applicant.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()


def test_another_institutions_applicant_answers_404(supervisor, client):
    foreign = ApplicantFactory(institution=InstitutionFactory())
    client.force_login(supervisor)
    assert client.get(reverse("applicant_export", args=[foreign.pk])).status_code == 404
    erase = reverse("applicant_erase", args=[foreign.pk])
    assert client.get(erase).status_code == 404
    assert client.post(erase, {"justification": "x" * 20, "confirm": "on"}).status_code == 404
    assert Applicant.objects.filter(pk=foreign.pk).exists()
    assert not AuditEvent.objects.filter(action__in=["exported", "erased"]).exists()


def test_the_applicant_page_offers_export_and_erasure_to_supervisors_only(institution, client):
    applicant = ApplicantFactory(institution=institution)
    url = reverse("applicant_detail", args=[applicant.pk])
    client.force_login(UserFactory(institution=institution))
    assert reverse("applicant_erase", args=[applicant.pk]) not in client.get(url).text
    client.force_login(UserFactory(institution=institution, supervisor=True))
    page = client.get(url).text
    assert reverse("applicant_erase", args=[applicant.pk]) in page
    assert reverse("applicant_export", args=[applicant.pk]) in page
