"""Verifying without one click per claim: all of an applicant's claims in one click, and an
import's claims in one verification batch, which a clerk may launch for an import they made."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from tests.verifications.helpers import answering_people, import_row
from tests.verifications.test_imports import _csv
from verifications.enums import BatchKind, BatchStatus, ClaimKind, RequestState, Trigger, Verdict
from verifications.models import Batch, VerificationRequest
from verifications.services import verification_run
from verifications.services.batches import batch_prepare


pytestmark = pytest.mark.django_db


# --- All of an applicant's claims -------------------------------------------------------------


def test_a_clerk_verifies_all_of_an_applicants_claims_in_one_click(
    clerk, clerk_client, django_capture_on_commit_callbacks
):
    applicant = ApplicantFactory(institution=clerk.institution)
    claims = [ClaimFactory(applicant=applicant, kind=kind) for kind in ClaimKind]
    busy = VerificationRequest.objects.create(
        institution=clerk.institution,
        claim=claims[0],
        source="api_particulier",
        state=RequestState.PENDING,
        trigger=Trigger.SCHEDULED,
    )
    page = clerk_client.get(reverse("applicant_detail", args=[applicant.pk])).text
    assert 'id="applicant-verify-all"' in page
    assert "Vérifier toutes les déclarations" in page

    with django_capture_on_commit_callbacks() as sent:
        response = clerk_client.post(reverse("applicant_verify_all", args=[applicant.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("applicant_detail", args=[applicant.pk])
    new = VerificationRequest.objects.exclude(pk=busy.pk)
    # The claim already being checked keeps its check; each other claim gets one, sent at once
    # (as a click on its card's "Vérifier" would), asked by the clerk.
    assert sorted(new.values_list("claim_id", flat=True)) == [c.pk for c in claims[1:]]
    assert set(new.values_list("trigger", "requested_by", "state")) == {
        (Trigger.MANUAL, clerk.pk, RequestState.PENDING)
    }
    assert len(sent) == len(claims) - 1
    events = AuditEvent.objects.filter(action=AuditAction.VERIFICATION_REQUESTED)
    assert events.count() == len(claims) - 1
    assert {e.applicant_id for e in events} == {applicant.pk}
    assert "3 vérifications lancées." in clerk_client.get(response["Location"]).text

    # Again at once: everything is being checked, nothing is asked twice.
    clerk_client.post(reverse("applicant_verify_all", args=[applicant.pk]))
    assert VerificationRequest.objects.count() == len(claims)


def test_an_applicant_without_claims_offers_no_verify_all(clerk, clerk_client):
    applicant = ApplicantFactory(institution=clerk.institution)
    page = clerk_client.get(reverse("applicant_detail", args=[applicant.pk])).text
    assert 'id="applicant-verify-all"' not in page


def test_verify_all_of_another_institutions_applicant_is_not_found(clerk_client):
    foreign = ClaimFactory()
    response = clerk_client.post(reverse("applicant_verify_all", args=[foreign.applicant_id]))
    assert response.status_code == 404
    assert not VerificationRequest.objects.exists()


# --- An import's claims -------------------------------------------------------------------------


def _import(client, rows) -> Batch:
    file = SimpleUploadedFile("rentree.csv", _csv(rows), "text/csv")
    preview = client.post(reverse("import_upload"), {"file": file})
    token = preview["Location"].rstrip("/").rsplit("/", 1)[-1]
    response = client.post(reverse("import_confirm", args=[token]))
    assert response.status_code == 302
    return Batch.objects.filter(kind=BatchKind.IMPORT).latest("pk")


def _run_all(batch: Batch) -> None:
    """Run the batch's requests as workers would, against the sandbox."""
    for request in VerificationRequest.objects.filter(batch=batch):
        for _ in range(20):
            verification_run(request_id=request.pk, task_id="test")
            request.refresh_from_db()
            if request.state == RequestState.DONE:
                break
            VerificationRequest.objects.filter(pk=request.pk).update(not_before=timezone.now())
        assert request.state == RequestState.DONE


@pytest.mark.usefixtures("sandbox_settings")
def test_a_clerk_verifies_the_cohort_they_imported_in_one_click(clerk, clerk_client):
    people = answering_people(6)
    imported = _import(clerk_client, [import_row(p) for p in people])
    listing = clerk_client.get(reverse("applicant_list"), {"batch": imported.pk}).text
    assert 'id="import-verify"' in listing
    assert 'id="verify-selection-link"' not in listing  # the supervisor's cohort form
    detail = clerk_client.get(reverse("batch_detail", args=[imported.pk])).text
    assert 'id="import-verify"' in detail

    response = clerk_client.post(reverse("import_verify", args=[imported.pk]))
    verification = Batch.objects.get(kind=BatchKind.VERIFICATION)
    assert response.status_code == 302
    assert response["Location"] == reverse("batch_detail", args=[verification.pk])
    # Prepared by a worker (``batch_prepare``, its task run here): the page follows it.
    assert verification.status == BatchStatus.PREPARING
    assert verification.import_batch == imported
    page = clerk_client.get(response["Location"]).text
    assert "Vérification lancée : 6 déclarations à vérifier." in page
    assert "Préparation : 0 / 6" in page
    assert 'id="batch-progress"' in page  # the clerk follows it
    verification = batch_prepare(batch_id=verification.pk)
    assert verification.total == 6
    assert verification.created_by == clerk
    assert verification.label == f"Vérification de l'import « {imported.label} »"
    assert set(
        VerificationRequest.objects.filter(batch=verification).values_list("trigger", flat=True)
    ) == {Trigger.BATCH}

    _run_all(verification)
    verification.refresh_from_db()
    assert verification.status == BatchStatus.DONE
    fragment = clerk_client.get(
        reverse("batch_progress", args=[verification.pk]), headers={"HX-Request": "true"}
    ).text
    assert "6 sur 6 vérifiées (100 %)" in fragment
    assert not imported.applicants.filter(claims__verdict="").exists()

    # Once verified, a second click starts nothing.
    again = clerk_client.post(reverse("import_verify", args=[imported.pk]), follow=True)
    assert Batch.objects.filter(kind=BatchKind.VERIFICATION).count() == 1
    assert "déjà vérifiées ou en cours de vérification" in again.text


def test_a_second_click_while_the_checks_run_launches_nothing_more(clerk, clerk_client):
    imported = _import(clerk_client, [import_row(p) for p in answering_people(3)])
    first = clerk_client.post(reverse("import_verify", args=[imported.pk]))
    # While it is prepared: the same batch.
    assert (
        clerk_client.post(reverse("import_verify", args=[imported.pk]))["Location"]
        == (first["Location"])
    )
    batch_prepare(batch_id=Batch.objects.get(kind=BatchKind.VERIFICATION).pk)
    # While its checks run: nothing more.
    clerk_client.post(reverse("import_verify", args=[imported.pk]))
    assert Batch.objects.filter(kind=BatchKind.VERIFICATION).count() == 1
    assert VerificationRequest.objects.count() == 3


def test_only_the_claims_never_checked_are_verified(clerk, clerk_client):
    imported = _import(clerk_client, [import_row(p) for p in answering_people(3)])
    checked = imported.applicants.order_by("pk").first().claims.get()
    checked.verdict = Verdict.CONFIRMED
    checked.save(update_fields=["verdict"])
    clerk_client.post(reverse("import_verify", args=[imported.pk]))
    verification = batch_prepare(batch_id=Batch.objects.get(kind=BatchKind.VERIFICATION).pk)
    assert verification.total == 2
    assert not VerificationRequest.objects.filter(claim=checked).exists()


def test_a_clerk_may_not_verify_another_persons_import_a_supervisor_may(clerk, client):
    client.force_login(clerk)
    imported = _import(client, [import_row(p) for p in answering_people(2)])
    colleague = UserFactory(institution=clerk.institution)
    client.force_login(colleague)
    listing = client.get(reverse("applicant_list"), {"batch": imported.pk}).text
    assert 'id="import-verify"' not in listing
    assert 'id="import-verify"' not in client.get(reverse("batch_detail", args=[imported.pk])).text
    assert client.post(reverse("import_verify", args=[imported.pk])).status_code == 403
    assert not Batch.objects.filter(kind=BatchKind.VERIFICATION).exists()

    supervisor = UserFactory(institution=clerk.institution, supervisor=True)
    client.force_login(supervisor)
    assert 'id="import-verify"' in client.get(reverse("batch_detail", args=[imported.pk])).text
    response = client.post(reverse("import_verify", args=[imported.pk]))
    assert re.fullmatch(r"/lots/\d+/", response["Location"])
    assert Batch.objects.get(kind=BatchKind.VERIFICATION).created_by == supervisor


def test_a_verification_batch_is_not_an_import_to_verify(supervisor, supervisor_client):
    batch = Batch.objects.create(
        institution=supervisor.institution, kind=BatchKind.VERIFICATION, label="Lot", total=0
    )
    assert supervisor_client.post(reverse("import_verify", args=[batch.pk])).status_code == 404


def test_another_institutions_import_is_not_found(supervisor_client):
    foreign = Batch.objects.create(
        institution=UserFactory().institution, kind=BatchKind.IMPORT, label="Autre"
    )
    assert supervisor_client.post(reverse("import_verify", args=[foreign.pk])).status_code == 404
