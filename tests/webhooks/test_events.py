"""Events are written where the change happens, in its transaction (the outbox), for the
endpoints subscribed to them, and carry ids and verdicts, never personal data."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from admissions.enums import Role
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import (
    ScolariteOutcome,
    claim_for,
    person_with,
    request_for,
    run_until_done,
)
from tests.webhooks.helpers import endpoint_for
from verifications.enums import ClaimKind, Source, Trigger, Verdict
from verifications.models import Batch, InstitutionCredential, VerificationRequest
from verifications.services.batches import batch_verification_launch
from verifications.services.decisions import claim_override_verdict
from verifications.services.notifications import credential_expiry_check
from webhooks.enums import DeliveryState, EventType
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services.events import webhook_event_emit


pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def institution():
    return InstitutionFactory()


def events_of(type_: str) -> list[WebhookEvent]:
    return list(WebhookEvent.objects.filter(type=type_).order_by("id"))


def test_a_check_emits_completed_and_changed_with_no_personal_data(sandbox_settings, institution):
    endpoint, _secret = endpoint_for(institution, URL)
    pupil = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claim = claim_for(pupil, ClaimKind.SCOLARITE, institution)
    request = run_until_done(request_for(claim))
    assert request.verdict == Verdict.CONFIRMED

    [completed] = events_of(EventType.VERIFICATION_COMPLETED)
    assert completed.institution_id == institution.pk
    assert completed.data == {
        "request_id": request.pk,
        "claim_id": claim.pk,
        "applicant_id": claim.applicant_id,
        "kind": "scolarite",
        "source": Source.API_PARTICULIER,
        "trigger": "manual",
        "batch_id": None,
        "verdict": "confirmed",
        "reason_code": request.reason_code,
        "applied": True,
        "finished_at": completed.data["finished_at"],
    }
    [changed] = events_of(EventType.VERDICT_CHANGED)
    assert changed.data["previous_verdict"] is None
    assert changed.data["verdict"] == "confirmed"
    assert changed.data["claim_id"] == claim.pk
    for event in (completed, changed):
        assert WebhookDelivery.objects.get(event=event).endpoint == endpoint
        assert WebhookDelivery.objects.get(event=event).state == DeliveryState.PENDING
        text = json.dumps(event.data, ensure_ascii=False).upper()
        applicant = claim.applicant
        for personal in (
            applicant.birth_name,
            *applicant.first_names,
            applicant.file_reference,
            applicant.birth_date.isoformat(),
            pupil.uai,
        ):
            assert personal.upper() not in text

    # The same verdict again: completed, but no change.
    run_until_done(request_for(claim))
    assert len(events_of(EventType.VERIFICATION_COMPLETED)) == 2
    assert len(events_of(EventType.VERDICT_CHANGED)) == 1


def test_an_override_emits_verdict_changed(institution):
    endpoint_for(institution, URL, events=[EventType.VERDICT_CHANGED])
    supervisor = UserFactory(institution=institution, role=Role.SUPERVISOR)
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = claim_override_verdict(
        claim=claim,
        acting_user=supervisor,
        verdict=Verdict.CONTRADICTED,
        justification="Le certificat de scolarité est un faux.",
    )
    [event] = events_of(EventType.VERDICT_CHANGED)
    assert event.data["trigger"] == Trigger.OVERRIDE
    assert event.data["request_id"] == request.pk
    assert event.data["verdict"] == "contradicted"
    assert "faux" not in json.dumps(event.data)  # the justification stays in Vigie


def test_only_subscribed_endpoints_of_the_institution_get_an_event(institution):
    wanted, _ = endpoint_for(institution, URL, events=[EventType.BATCH_FINISHED])
    endpoint_for(institution, URL, events=[EventType.VERDICT_CHANGED])
    endpoint_for(InstitutionFactory(), URL)
    event = webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 1}
    )
    assert event is not None
    assert [d.endpoint for d in WebhookDelivery.objects.all()] == [wanted]
    assert (
        webhook_event_emit(
            institution_id=InstitutionFactory().pk, type=EventType.BATCH_FINISHED, data={}
        )
        is None
    )
    assert WebhookEvent.objects.count() == 1


def test_the_event_is_rolled_back_with_the_change(institution):
    endpoint_for(institution, URL)

    def change_that_fails():
        with transaction.atomic():
            webhook_event_emit(
                institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 1}
            )
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_batch_that_finishes_emits_batch_finished(sandbox_settings, institution):
    endpoint_for(institution, URL, events=[EventType.BATCH_FINISHED])
    supervisor = UserFactory(institution=institution, role=Role.SUPERVISOR)
    pupil = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claims = [claim_for(pupil, ClaimKind.SCOLARITE, institution) for _ in range(2)]
    batch = batch_verification_launch(acting_user=supervisor, claims=claims)
    requests = list(VerificationRequest.objects.filter(batch=batch))
    run_until_done(requests[0])
    assert not events_of(EventType.BATCH_FINISHED)
    run_until_done(requests[1])
    [event] = events_of(EventType.BATCH_FINISHED)
    assert event.data["batch_id"] == batch.pk
    assert event.data["total"] == 2
    assert event.data["verdicts"] == {"confirmed": 2}
    assert Batch.objects.get(pk=batch.pk).status == "done"


def test_a_token_close_to_its_expiry_emits_credential_expiring(institution):
    endpoint_for(institution, URL, events=[EventType.CREDENTIAL_EXPIRING])
    now = timezone.now()
    InstitutionCredential.objects.create(
        institution=institution,
        source=Source.API_PARTICULIER,
        token="secret-token-value",
        expires_at=now + timedelta(days=20),
    )
    assert credential_expiry_check(now=now) == 1
    [event] = events_of(EventType.CREDENTIAL_EXPIRING)
    assert event.data["source"] == Source.API_PARTICULIER
    assert event.data["threshold_days"] == 30
    assert event.data["expired"] is False
    assert "secret-token-value" not in json.dumps(event.data)
    # The same threshold is not told twice.
    assert credential_expiry_check(now=now) == 0
    assert len(events_of(EventType.CREDENTIAL_EXPIRING)) == 1
