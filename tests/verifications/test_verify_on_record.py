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
from tests.factories import ApplicantFactory, UserFactory
from tests.verifications.helpers import answering_people, declared_for, import_row
from tests.verifications.test_imports import _csv
from verifications.enums import BatchKind, ClaimKind, RequestState, Trigger
from verifications.models import Batch, Claim, VerificationRequest
from verifications.services import claims as claim_services


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
        claim_services.claim_update_declared(
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
        claim_services.claim_create(
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
        claim = claim_services.claim_create(
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
    imported = Batch.objects.get(kind=BatchKind.IMPORT)
    claims = Claim.objects.filter(applicant__batch=imported)
    assert claims.count() == 3
    requests = VerificationRequest.objects.filter(claim__in=claims)
    assert requests.count() == 3
    assert set(requests.values_list("trigger", "requested_by")) == {(Trigger.ON_RECORD, clerk.pk)}
    # Not three silent checks: one verification batch of the import, as "Vérifier les
    # déclarations importées" would launch, which the importer follows on its page.
    verification = Batch.objects.get(kind=BatchKind.VERIFICATION)
    assert set(requests.values_list("batch", flat=True)) == {verification.pk}
    assert (verification.import_batch, verification.created_by, verification.total) == (
        imported,
        clerk,
        3,
    )
    assert verification.label == f"Vérification de l'import « {imported.label} »"
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert (event.details["trigger"], event.details["count"]) == ("on_record", 3)
    assert (event.object_type, event.object_id) == ("batch", str(verification.pk))

    # The import's page and its applicants' list lead to it.
    link = reverse("batch_detail", args=[verification.pk])
    assert link in clerk_client.get(reverse("batch_detail", args=[imported.pk])).text
    assert link in clerk_client.get(reverse("applicant_list"), {"batch": imported.pk}).text
    # The button now has nothing left to launch, and says so.
    again = clerk_client.post(reverse("import_verify", args=[imported.pk]), follow=True)
    assert Batch.objects.filter(kind=BatchKind.VERIFICATION).count() == 1
    assert "déjà vérifiées ou en cours de vérification" in again.text
    # Once every claim has its verdict, it is no longer offered (it was, for nothing).
    pages = [
        reverse("batch_detail", args=[imported.pk]),
        reverse("applicant_list") + f"?batch={imported.pk}",
    ]
    claims.update(verdict="confirmed")
    for url in pages:
        assert 'id="import-verify"' not in clerk_client.get(url).text, url
    claims.filter(pk=claims.first().pk).update(verdict="")
    for url in pages:
        assert 'id="import-verify"' in clerk_client.get(url).text, url


@pytest.mark.usefixtures("eager")
def test_an_import_is_not_checked_when_the_setting_was_turned_off_meanwhile(
    clerk, django_capture_on_commit_callbacks
):
    """The task reads the setting when it runs: an admin who turns it off between the import
    and the task gets no batch."""
    from verifications.services.batches import import_verify_on_record

    imported = Batch.objects.create(
        institution=clerk.institution, kind=BatchKind.IMPORT, label="Import", created_by=clerk
    )
    ApplicantFactory(institution=clerk.institution, batch=imported)
    assert import_verify_on_record(import_batch_id=imported.pk, acting_user_id=clerk.pk) is None
    assert not Batch.objects.filter(kind=BatchKind.VERIFICATION).exists()


@pytest.mark.usefixtures("sandbox_settings", "eager")
def test_verdicts_reset_by_an_identity_edit_are_checked_again_by_themselves(
    clerk, django_capture_on_commit_callbacks
):
    """A new birth name asks the sources another question: the verdicts it resets are checked
    again, as a new claim would be, when the institution checks claims as they are recorded."""
    _switch_on(clerk.institution)
    p = answering_people(1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        applicant = services.applicant_create(
            acting_user=clerk,
            identity=_identity(p),
            claims=[(ClaimKind.SCOLARITE, declared_for(p, ClaimKind.SCOLARITE))],
        )
    claim = applicant.claims.get()
    claim.refresh_from_db()
    assert claim.verdict
    with django_capture_on_commit_callbacks(execute=True):
        services.applicant_update(
            acting_user=clerk,
            applicant=applicant,
            changes={"birth_name": p.birth_name + "-DUPONT"},
            ip="10.0.0.9",
        )
    requests = VerificationRequest.objects.filter(claim=claim).order_by("pk")
    assert [r.trigger for r in requests] == [Trigger.ON_RECORD, Trigger.ON_RECORD]
    assert requests.last().state == RequestState.DONE
    claim.refresh_from_db()
    assert claim.verdict  # answered again, about the new identity, with no click
    edited = AuditEvent.objects.get(action=AuditAction.EDITED)
    assert edited.details["verdicts_reset"] == 1

    # Setting off: the reset verdict stays "not checked" until someone clicks.
    clerk.institution.verify_on_record = False
    clerk.institution.save(update_fields=["verify_on_record"])
    with django_capture_on_commit_callbacks(execute=True):
        services.applicant_update(
            acting_user=clerk, applicant=applicant, changes={"birth_name": p.birth_name}
        )
    assert VerificationRequest.objects.filter(claim=claim).count() == 2
    claim.refresh_from_db()
    assert claim.verdict == ""


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


def test_a_card_follows_the_check_on_its_way_after_a_write(clerk, clerk_client):
    """The check is asked for by a task once the write commits: the page that follows the
    write may come first. Its card polls for a minute, so the check shows up live; without the
    setting, or later, it does not poll (seen in the browser test on a busy machine)."""
    import datetime as dt

    from django.utils import timezone

    from tests.factories import ClaimFactory

    claim = ClaimFactory(applicant__institution=clerk.institution, verdict="")
    url = reverse("claim_card", args=[claim.pk])
    assert 'hx-trigger="poll"' not in clerk_client.get(url).text  # setting off
    _switch_on(clerk.institution)
    assert 'hx-trigger="poll"' in clerk_client.get(url).text
    page = clerk_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert f'hx-get="{url}" hx-trigger="poll"' in page
    Claim.objects.filter(pk=claim.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=2))
    assert 'hx-trigger="poll"' not in clerk_client.get(url).text  # no check came: stop
