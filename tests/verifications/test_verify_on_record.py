"""An institution that checks claims as soon as they are recorded (its settings page): a claim
typed in a form, edited, or imported is checked with no click, its request and journal entry
saying "on_record"; off by default."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from admissions import services
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.admissions.test_imports import _csv
from tests.factories import ApplicantFactory, UserFactory
from tests.verifications.helpers import answering_people, declared_for, import_row
from verifications.enums import ClaimKind, RequestState, Trigger
from verifications.models import Batch, Claim, VerificationRequest


pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings):
    """The tasks sent on commit run in this process, against the sandbox."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _identity(p, reference="AUTO-1"):
    return {
        "file_reference": reference,
        "birth_name": p.birth_name,
        "usage_name": p.usage_name,
        "first_names": list(p.first_names),
        "sex": p.sex,
        "birth_date": p.birth_date,
    }


def _switch_on(institution):
    institution.verify_on_record = True
    institution.save(update_fields=["verify_on_record"])


@pytest.mark.usefixtures("sandbox_settings", "eager")
def test_claims_typed_in_a_form_are_checked_at_once_when_the_institution_asks(
    clerk, django_capture_on_commit_callbacks
):
    _switch_on(clerk.institution)
    p = answering_people(1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        applicant = services.applicant_create(
            acting_user=clerk,
            identity=_identity(p),
            claims=[(ClaimKind.SCOLARITE, declared_for(p, ClaimKind.SCOLARITE))],
            ip="10.0.0.9",
        )
    claim = applicant.claims.get()
    request = VerificationRequest.objects.get(claim=claim)
    assert (request.trigger, request.requested_by, request.state) == (
        Trigger.ON_RECORD,
        clerk,
        RequestState.DONE,
    )
    claim.refresh_from_db()
    assert claim.verdict  # the sandbox answered, nobody clicked
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert event.details["trigger"] == "on_record"
    assert (event.actor, event.ip, event.applicant_id) == (clerk, "10.0.0.9", applicant.pk)

    # An edited declaration asks a new question: checked again, by itself.
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_update_declared(
            acting_user=clerk, claim=claim, declared={**claim.declared, "school_year": 2024}
        )
    assert VerificationRequest.objects.filter(claim=claim, trigger=Trigger.ON_RECORD).count() == 2


@pytest.mark.usefixtures("eager")
def test_off_by_default_nothing_is_checked_by_itself(clerk, django_capture_on_commit_callbacks):
    assert clerk.institution.verify_on_record is False
    p = answering_people(1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        applicant = services.applicant_create(
            acting_user=clerk,
            identity=_identity(p),
            claims=[(ClaimKind.SCOLARITE, declared_for(p, ClaimKind.SCOLARITE))],
        )
        services.claim_create(
            acting_user=clerk,
            applicant=applicant,
            kind=ClaimKind.CVEC,
            declared=declared_for(p, ClaimKind.CVEC),
        )
    assert applicant.claims.count() == 2
    assert not VerificationRequest.objects.exists()


@pytest.mark.usefixtures("sandbox_settings", "eager")
def test_a_claim_added_to_an_applicant_is_checked_by_itself(
    clerk, django_capture_on_commit_callbacks
):
    _switch_on(clerk.institution)
    p = answering_people(1)[0]
    applicant = ApplicantFactory(institution=clerk.institution)
    with django_capture_on_commit_callbacks(execute=True):
        claim = services.claim_create(
            acting_user=clerk,
            applicant=applicant,
            kind=ClaimKind.SCOLARITE,
            declared=declared_for(p, ClaimKind.SCOLARITE),
        )
    assert VerificationRequest.objects.get(claim=claim).trigger == Trigger.ON_RECORD


@pytest.mark.usefixtures("sandbox_settings", "eager")
def test_imported_claims_are_checked_by_themselves(
    clerk, clerk_client, django_capture_on_commit_callbacks
):
    _switch_on(clerk.institution)
    rows = [import_row(p) for p in answering_people(3)]
    file = SimpleUploadedFile("rentree.csv", _csv(rows), "text/csv")
    preview = clerk_client.post(reverse("import_upload"), {"file": file})
    token = preview["Location"].rstrip("/").rsplit("/", 1)[-1]
    with django_capture_on_commit_callbacks(execute=True):
        clerk_client.post(reverse("import_confirm", args=[token]))
    imported = Batch.objects.get()
    claims = Claim.objects.filter(applicant__batch=imported)
    assert claims.count() == 3
    requests = VerificationRequest.objects.filter(claim__in=claims)
    assert requests.count() == 3
    assert set(requests.values_list("trigger", "requested_by")) == {(Trigger.ON_RECORD, clerk.pk)}
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert (event.details["trigger"], event.details["count"]) == ("on_record", 3)


def test_the_institution_admin_switches_it_on_and_it_is_audited(client):
    from tests.verifications.test_institution_settings import URL, _form

    admin = UserFactory(institution_admin=True)
    client.force_login(admin)
    page = client.get(URL).text
    assert "Vérifier les déclarations dès leur enregistrement" in page
    assert 'name="verify_on_record"' in page
    response = client.post(URL, _form(verify_on_record="on"))
    assert response.status_code == 302
    admin.institution.refresh_from_db()
    assert admin.institution.verify_on_record is True
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert event.details["changes"]["verify_on_record"] == [False, True]
    assert re.search(r'<input[^>]*name="verify_on_record"[^>]*checked', client.get(URL).text)

    client.post(URL, _form())
    admin.institution.refresh_from_db()
    assert admin.institution.verify_on_record is False
