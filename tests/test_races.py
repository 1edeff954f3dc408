"""Check-then-insert under concurrency: two transactions that both find no row and both insert
one that a unique constraint allows only once. The loser must end as if it had come second
(count on the winner's row, take it, or say "already taken" as a form error), never with an
IntegrityError that rolls back its whole transaction.

Each test makes the race certain rather than likely, with two real PostgreSQL transactions: the
first inserts and holds its transaction open until the second is seen waiting on a lock (on the
unique index, behind the first's uncommitted row), then commits. On SQLite, IMMEDIATE
transactions take the write lock at BEGIN, so writers never overlap: nothing to race there.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from admissions import services
from admissions.enums import AuditAction, Role
from admissions.models import Applicant, AuditEvent
from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import BatchKind, ClaimKind, RequestState, Source, Trigger
from verifications.models import (
    Batch,
    InstitutionCredential,
    InstitutionPolicy,
    SourceAlert,
    VerificationRequest,
)
from verifications.pipeline.record import raise_alert
from verifications.providers.base import ProviderRejected
from verifications.services import credentials as credential_services
from verifications.services import verification_requests_create, verification_run
from verifications.services.policies import institution_policy_get


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent PostgreSQL transactions")


def _lock_waiters() -> int:
    """Sessions of this database waiting on a lock (a row, a unique index entry, an advisory
    lock). The activity view is a snapshot per transaction: cleared first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _race(first: Callable[[], object], second: Callable[[], object]) -> object:
    """Run ``first`` in a transaction of another thread, and ``second`` here once ``first`` has
    written; ``first`` commits only when ``second`` waits behind it. Returns ``second``'s
    result (its exception propagates)."""
    written = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                first()
                written.set()
                if not _wait_for(lambda: _lock_waiters() >= 1):
                    raise AssertionError("the second transaction never waited on the first")
        except BaseException as exc:  # reported below
            errors.append(exc)
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert written.wait(timeout=30)
        return second()
    finally:
        thread.join(timeout=60)
        assert not errors, errors


def _rejected(code: str) -> ProviderRejected:
    return ProviderRejected("token refused", code=code, source=Source.API_PARTICULIER)


def test_two_workers_raising_the_same_alert_at_once_both_finish_and_both_count():
    """The worker test's scenario with the real pipeline: two requests whose source is disabled
    for the institution end at the same moment. Both record the refusal in one transaction
    each; the test holds the batch row that both take last (``batch_finish_if_complete``), so
    both transactions are open together: one has inserted the alert, the other waits on the
    unique index ``one_open_alert_per_code``. Released, both requests end ``done`` and the one
    alert counts two occurrences."""
    sources = [s for s in Source.values if s != Source.API_PARTICULIER]
    institution = InstitutionFactory(enabled_sources=sources)
    user = UserFactory(institution=institution, supervisor=True)
    person = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claims = [claim_for(person, ClaimKind.SCOLARITE, institution) for _ in range(2)]
    batch = Batch.objects.create(
        institution=institution, kind=BatchKind.VERIFICATION, label="race", total=2
    )
    verification_requests_create(
        claims=claims, acting_user=user, trigger=Trigger.BATCH, batch=batch
    )
    ids = list(VerificationRequest.objects.filter(batch=batch).values_list("id", flat=True))
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(request_id: int) -> None:
        try:
            outcomes[request_id] = verification_run(request_id=request_id).status
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=[pk]) for pk in ids]
    with transaction.atomic():
        Batch.objects.select_for_update().get(pk=batch.pk)
        for thread in threads:
            thread.start()
        # One waits for the batch row, the other for the first one's alert row.
        assert _wait_for(lambda: _lock_waiters() >= 2), "the two runs never overlapped"
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert outcomes == dict.fromkeys(ids, "done")
    assert not VerificationRequest.objects.filter(pk__in=ids).exclude(state=RequestState.DONE)
    alert = SourceAlert.objects.get(institution=institution)
    assert (alert.source, alert.code, alert.count) == (Source.API_PARTICULIER, "enabled_sources", 2)
    assert Batch.objects.get(pk=batch.pk).finished_at is not None


def test_raise_alert_counts_on_the_alert_another_transaction_just_opened():
    institution = InstitutionFactory()
    claims = [
        claim_for(person_with(scolarite=ScolariteOutcome.ENROLLED), "scolarite", institution)
        for _ in range(2)
    ]
    verification_requests_create(claims=claims, acting_user=None, trigger=Trigger.SCHEDULED)
    first, second = VerificationRequest.objects.filter(institution=institution).order_by("id")
    _race(
        lambda: raise_alert(first, _rejected("00101"), first.created_at),
        lambda: raise_alert(second, _rejected("00101"), second.created_at),
    )
    alert = SourceAlert.objects.get(institution=institution)
    assert (alert.code, alert.count, alert.resolved_at) == ("00101", 2, None)


def test_two_admins_storing_a_token_at_once_leave_one_credential():
    """``update_or_create`` on (institution, source), which ``one_credential_per_source`` makes
    unique: Django retries its lookup after the refused insert, in a savepoint."""
    institution = InstitutionFactory()
    admin = UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN)

    def store(token: str):
        return lambda: credential_services.credential_set(
            acting_user=admin, institution=institution, source=Source.CVEC, token=token
        )

    _race(store("first-token"), store("second-token"))
    credential = InstitutionCredential.objects.get(institution=institution)
    assert credential.token == "second-token"  # the later write wins
    assert (
        AuditEvent.objects.filter(
            institution=institution, action=AuditAction.CREDENTIAL_CHANGED
        ).count()
        == 2
    )


def test_two_processes_creating_the_default_policy_at_once_share_one():
    institution = InstitutionFactory()
    created: list[InstitutionPolicy] = []
    theirs = _race(
        lambda: created.append(institution_policy_get(institution)),
        lambda: institution_policy_get(institution),
    )
    assert theirs.pk == created[0].pk
    assert InstitutionPolicy.objects.filter(institution=institution).count() == 1


def test_a_file_reference_taken_meanwhile_is_a_form_error_not_a_crash():
    clerk = UserFactory()
    identity = {
        "file_reference": "DOS-RACE",
        "birth_name": "Martin",
        "first_names": ["Emma"],
        "sex": "F",
        "birth_date": "2012-08-15",
    }

    def create():
        return services.applicant_create(acting_user=clerk, identity=identity)

    with pytest.raises(ValidationError) as exc:
        _race(create, create)
    assert "file_reference" in exc.value.message_dict
    assert Applicant.objects.filter(file_reference="DOS-RACE").count() == 1


def test_a_file_reference_renamed_to_one_taken_meanwhile_is_a_form_error():
    clerk = UserFactory()
    base = {"birth_name": "Martin", "first_names": ["Emma"], "sex": "F", "birth_date": "2012-08-15"}
    other = services.applicant_create(
        acting_user=clerk, identity={**base, "file_reference": "DOS-OLD"}
    )

    def create():
        return services.applicant_create(
            acting_user=clerk, identity={**base, "file_reference": "DOS-NEW"}
        )

    def rename():
        return services.applicant_update(
            acting_user=clerk, applicant=other, changes={"file_reference": "DOS-NEW"}
        )

    with pytest.raises(ValidationError) as exc:
        _race(create, rename)
    assert "file_reference" in exc.value.message_dict
    other.refresh_from_db()
    assert other.file_reference == "DOS-OLD"
