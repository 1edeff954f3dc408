"""Batch verification services: launch, pause/resume against the real dispatcher and worker
claim, re-running only what failed, finishing, the cohort, and the ETA."""

import threading
import time

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import ScolariteOutcome
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with
from verifications import selectors
from verifications.enums import BatchKind, BatchStatus, ClaimKind, RequestState, Trigger, Verdict
from verifications.eta import duration_text, eta_seconds
from verifications.models import Batch, VerificationRequest
from verifications.selectors import RERUNNABLE_VERDICTS
from verifications.services import verification_dispatch, verification_run
from verifications.services.batches import (
    batch_finish_if_complete,
    batch_pause,
    batch_rerun_failed,
    batch_resume,
    batch_verification_launch,
)


pytestmark = pytest.mark.django_db


def _claims(user, n: int, kind=ClaimKind.SCOLARITE):
    return [
        ClaimFactory(applicant=ApplicantFactory(institution=user.institution), kind=kind)
        for _ in range(n)
    ]


def _launch(user, claims):
    return batch_verification_launch(acting_user=user, claims=claims, label="Lot test")


def test_launch_creates_a_verification_batch_and_its_requests(supervisor):
    claims = _claims(supervisor, 5)
    batch = _launch(supervisor, claims)
    assert batch.kind == BatchKind.VERIFICATION
    assert batch.status == BatchStatus.RUNNING
    assert batch.total == 5
    requests = VerificationRequest.objects.filter(batch=batch)
    assert requests.count() == 5
    assert set(requests.values_list("trigger", flat=True)) == {Trigger.BATCH}
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert event.object_type == "batch"
    assert event.object_id == str(batch.pk)


def test_launch_refuses_an_empty_cohort_and_foreign_claims(supervisor):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(ValidationError):
        _launch(supervisor, [])
    foreign = ClaimFactory()
    with pytest.raises(PermissionDenied):
        _launch(supervisor, [foreign])
    assert not Batch.objects.exists()


def test_pause_really_stops_dispatch_and_resume_lets_it_go(supervisor):
    claims = _claims(supervisor, 6)
    other = _claims(supervisor, 2, kind=ClaimKind.CVEC)
    batch = _launch(supervisor, claims)
    other_batch = _launch(supervisor, other)
    assert batch_pause(batch=batch, acting_user=supervisor) is True
    assert batch_pause(batch=batch, acting_user=supervisor) is False  # already paused
    report = verification_dispatch()
    assert report.sent == {"cvec": 2}  # the other batch goes on; the paused one sends nothing
    sent = set(
        VerificationRequest.objects.filter(enqueued_at__isnull=False).values_list(
            "batch_id", flat=True
        )
    )
    assert sent == {other_batch.pk}
    assert batch_resume(batch=batch, acting_user=supervisor) is True
    assert verification_dispatch().sent == {"api_particulier": 6}
    changes = AuditEvent.objects.filter(
        object_type="batch", object_id=str(batch.pk), details__has_key="change"
    ).values_list("action", "details__change")
    assert list(changes.order_by("seq")) == [
        (AuditAction.BATCH_PAUSED, "paused"),
        (AuditAction.BATCH_RESUMED, "resumed"),
    ]


def test_a_message_sent_before_the_pause_is_skipped_by_the_worker(supervisor):
    """A worker that receives a request of a paused batch leaves it pending, without calling."""
    batch = _launch(supervisor, _claims(supervisor, 1))
    request = VerificationRequest.objects.get(batch=batch)
    assert verification_dispatch().sent == {"api_particulier": 1}  # message in the broker
    batch_pause(batch=batch, acting_user=supervisor)
    assert verification_run(request_id=request.pk).status == "skipped"
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    assert request.attempt_count == 0
    assert not request.attempts.exists()


@pytest.mark.usefixtures("sandbox_settings")
def test_resumed_batch_runs_to_done_against_the_sandbox(supervisor):
    institution = supervisor.institution
    enrolled = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claims = [claim_for(enrolled, ClaimKind.SCOLARITE, institution) for _ in range(3)]
    batch = _launch(supervisor, claims)
    batch_pause(batch=batch, acting_user=supervisor)
    ids = list(VerificationRequest.objects.filter(batch=batch).values_list("id", flat=True))
    assert {verification_run(request_id=pk).status for pk in ids} == {"skipped"}
    batch_resume(batch=batch, acting_user=supervisor)
    for pk in ids:
        assert verification_run(request_id=pk).status == "done"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert batch.finished_at is not None
    progress = selectors.batch_progress(user=supervisor, batch=batch)
    assert (progress.done, progress.total, progress.percent) == (3, 3, 100)
    assert progress.by_verdict == {Verdict.CONFIRMED: 3}


def _finish_request(request, verdict):
    VerificationRequest.objects.filter(pk=request.pk).update(
        state=RequestState.DONE, verdict=verdict, finished_at=timezone.now()
    )


def test_rerun_failed_rechecks_only_unavailable_and_rejected(supervisor):
    """ "Failed" = the source gave no answer about the person: ``unavailable`` (no answer after
    the bounded retries) and ``rejected`` (the request itself refused). Answers, ``not_found``
    included, are kept."""
    assert {Verdict.UNAVAILABLE, Verdict.REJECTED} == RERUNNABLE_VERDICTS
    verdicts = [
        Verdict.CONFIRMED,
        Verdict.CONTRADICTED,
        Verdict.MISMATCH,
        Verdict.NOT_FOUND,
        Verdict.UNAVAILABLE,
        Verdict.REJECTED,
        Verdict.UNAVAILABLE,
    ]
    claims = _claims(supervisor, len(verdicts))
    batch = _launch(supervisor, claims)
    requests = {r.claim_id: r for r in VerificationRequest.objects.filter(batch=batch)}
    for claim, verdict in zip(claims, verdicts, strict=True):
        _finish_request(requests[claim.pk], verdict)
    assert batch_finish_if_complete(batch_id=batch.pk) is True
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE

    assert batch_rerun_failed(batch=batch, acting_user=supervisor) == 3
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    assert batch.finished_at is None
    new = VerificationRequest.objects.filter(batch=batch, state=RequestState.PENDING)
    failed_claims = {
        c.pk for c, v in zip(claims, verdicts, strict=True) if v in RERUNNABLE_VERDICTS
    }
    assert set(new.values_list("claim_id", flat=True)) == failed_claims
    replaced = VerificationRequest.objects.filter(batch=batch, superseded=True)
    assert set(replaced.values_list("claim_id", flat=True)) == failed_claims  # kept, as history
    # The batch counts each claim once: its latest request.
    progress = selectors.batch_progress(user=supervisor, batch=batch)
    assert progress.total == len(verdicts)
    assert progress.done == 4
    assert progress.pending == 3
    assert progress.failed == 0
    # Nothing failed any more among current requests: a second click does nothing.
    assert batch_rerun_failed(batch=batch, acting_user=supervisor) == 0


def test_a_batch_is_done_only_when_no_request_is_open(supervisor):
    claims = _claims(supervisor, 2)
    batch = _launch(supervisor, claims)
    first, second = VerificationRequest.objects.filter(batch=batch).order_by("id")
    _finish_request(first, Verdict.CONFIRMED)
    assert batch_finish_if_complete(batch_id=batch.pk) is False
    _finish_request(second, Verdict.CONFIRMED)
    assert batch_finish_if_complete(batch_id=batch.pk) is True
    assert batch_finish_if_complete(batch_id=batch.pk) is False  # once
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_two_workers_finishing_the_last_two_requests_together_finish_the_batch():
    """Each finishes its request and checks the batch in its own transaction, at the same
    time: the lock on the batch row makes the second one see the first one's request done."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent transactions")
    supervisor = UserFactory(supervisor=True)
    batch = _launch(supervisor, _claims(supervisor, 2))
    ids = list(VerificationRequest.objects.filter(batch=batch).values_list("id", flat=True))
    barrier = threading.Barrier(2)
    errors = []

    def finish(request_id):
        from django.db import transaction

        try:
            with transaction.atomic():
                VerificationRequest.objects.filter(pk=request_id).update(
                    state=RequestState.DONE, verdict=Verdict.CONFIRMED
                )
                barrier.wait(timeout=10)  # both updated, neither committed
                batch_finish_if_complete(batch_id=batch.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=finish, args=[pk]) for pk in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.DONE


def test_cohort_claims_filters_applicants_then_claims(supervisor):
    institution = supervisor.institution
    imported = Batch.objects.create(institution=institution, kind=BatchKind.IMPORT, label="i")
    a = ApplicantFactory(institution=institution, batch=imported)
    b = ApplicantFactory(institution=institution)
    a_scol = ClaimFactory(applicant=a, verdict=Verdict.UNAVAILABLE)
    a_cvec = ClaimFactory(applicant=a, kind=ClaimKind.CVEC, verdict=Verdict.CONFIRMED)
    b_scol = ClaimFactory(applicant=b)
    ClaimFactory()  # another institution's

    def pks(**filters):
        return set(selectors.cohort_claims(user=supervisor, **filters).values_list("pk", flat=True))

    assert pks() == {a_scol.pk, a_cvec.pk, b_scol.pk}
    assert pks(batch_id=imported.pk) == {a_scol.pk, a_cvec.pk}
    assert pks(needs_me=True) == {a_scol.pk}
    assert pks(verdict="unchecked") == {b_scol.pk}
    assert pks(kinds=[ClaimKind.CVEC]) == {a_cvec.pk}
    assert pks(kind=ClaimKind.SCOLARITE, batch_id=imported.pk) == {a_scol.pk}


def test_eta_is_the_slowest_source_with_what_is_queued_ahead():
    rates = {"api_particulier": 20.0, "covoiturage": 1.0}
    assert eta_seconds({"api_particulier": 200, "covoiturage": 30}, {}, rates) == 30.0
    assert eta_seconds({"api_particulier": 200}, {"api_particulier": 1000}, rates) == 60.0
    assert eta_seconds({"covoiturage": 0}, {"covoiturage": 50}, rates) == 0.0
    assert duration_text(0) == "terminé"
    assert duration_text(30) == "moins d'une minute"
    assert duration_text(121) == "environ 2 minutes"
    assert duration_text(2 * 3600 + 5 * 60) == "environ 2 h 05"


def test_cohort_summary_counts_per_source_busy_and_eta(supervisor, settings):
    settings.VERIFICATION_RATE_LIMITS = {"covoiturage": {"ip": [(60, 60.0)]}}
    covoit = _claims(supervisor, 120, kind=ClaimKind.COVOITURAGE)
    _claims(supervisor, 4, kind=ClaimKind.CVEC)
    # 30 requests of another institution are queued for the same source, ahead of us.
    other = InstitutionFactory()
    batch_verification_launch(
        acting_user=UserFactory(institution=other, supervisor=True),
        claims=[
            ClaimFactory(applicant=ApplicantFactory(institution=other), kind="covoiturage")
            for _ in range(30)
        ],
    )
    from verifications.services import verification_request_create

    verification_request_create(claim=covoit[0], acting_user=supervisor)  # busy
    summary = selectors.cohort_summary(
        user=supervisor, claims=selectors.cohort_claims(user=supervisor)
    )
    assert summary.by_source == {"covoiturage": 119, "cvec": 4}  # to send
    assert summary.busy == 1
    assert summary.to_send == 123
    assert summary.ahead_by_source == {"covoiturage": 31}  # the busy one is among them
    assert summary.eta == pytest.approx(150, rel=0.01)  # (31 + 119) at 1/s


@pytest.mark.django_db(transaction=True)
def test_a_check_opened_meanwhile_makes_the_launch_refuse_whole():
    """Another transaction opens a check of one of the claims after the launch looked for busy
    claims: the launch waits on the unique index, then refuses everything, batch included."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent PostgreSQL transactions")
    from django.core.exceptions import ValidationError
    from django.db import transaction

    supervisor = UserFactory(supervisor=True)
    claims = _claims(supervisor, 3)
    inserted = threading.Event()

    def open_a_check():
        try:
            with transaction.atomic():
                VerificationRequest.objects.create(
                    institution_id=claims[1].institution_id,
                    claim=claims[1],
                    source="api_particulier",
                    trigger=Trigger.MANUAL,
                )
                inserted.set()
                time.sleep(1.0)  # the launch is blocked on our row meanwhile
        finally:
            connection.close()

    thread = threading.Thread(target=open_a_check)
    thread.start()
    assert inserted.wait(timeout=10)
    with pytest.raises(ValidationError, match="rien n'a été lancé"):
        _launch(supervisor, claims)
    thread.join(timeout=10)
    assert not Batch.objects.exists()
    assert VerificationRequest.objects.count() == 1


def test_bulk_written_requests_equal_what_the_orm_writes(supervisor):
    """verification_requests_create writes its rows with bulk_insert: every column must hold
    what a request created by the ORM holds (a new non-null column must be added there)."""
    from django.forms.models import model_to_dict

    from verifications.services import verification_request_create

    claim, other = _claims(supervisor, 2)
    batch = _launch(supervisor, [claim])
    bulk = VerificationRequest.objects.get(batch=batch)
    single = verification_request_create(claim=other, acting_user=supervisor, trigger="batch")
    single = VerificationRequest.objects.get(pk=single.pk)
    ignored = {"id", "claim", "batch", "enqueued_at"}
    assert {k: v for k, v in model_to_dict(bulk).items() if k not in ignored} == {
        k: v for k, v in model_to_dict(single).items() if k not in ignored
    }
