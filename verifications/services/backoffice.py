"""Back-office writes on the pipeline, for staff in the Django admin: put a stuck request back in
the queue, reset a source's circuit breaker, mark a configuration alert resolved. Each records an
audit event in its transaction."""

import logging
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.models import User
from verifications.enums import RequestState
from verifications.models import SourceAlert, VerificationRequest
from verifications.providers.limits import get_limiter
from verifications.services.requests import send_on_commit


logger = logging.getLogger(__name__)

REQUEUE_PURPOSE = "remise en file depuis le back-office"
BREAKER_RESET_PURPOSE = "réinitialisation du disjoncteur depuis le back-office"
ALERT_RESOLVE_PURPOSE = "alerte de configuration résolue depuis le back-office"


class RequeueOutcome(StrEnum):
    REQUEUED = "requeued"
    FINISHED = "finished"  # done: nothing to re-queue
    LEASE_ALIVE = "lease_alive"  # a worker holds it and its lease has not expired


@transaction.atomic
def verification_request_requeue(
    *, request_id: int, acting_user: User, ip: str | None = None
) -> RequeueOutcome:
    """Put an open request back to pending, due now, and send its task on commit.

    A running request is re-queued only once its lease has expired (the worker died or hangs);
    should that worker come back, its verdict is refused (the lease is no longer its own).
    """
    request = (
        VerificationRequest.objects.select_for_update()
        .select_related("claim", "institution")
        .get(pk=request_id)
    )
    now = timezone.now()
    if request.state == RequestState.DONE:
        return RequeueOutcome.FINISHED
    if (
        request.state == RequestState.RUNNING
        and request.claimed_at is not None
        and request.claimed_at >= now - settings.VERIFICATION_LEASE
    ):
        return RequeueOutcome.LEASE_ALIVE
    previous = request.state
    VerificationRequest.objects.filter(pk=request.pk).update(
        state=RequestState.PENDING,
        claimed_by="",
        claimed_at=None,
        not_before=now,
        enqueued_at=now,
    )
    audit_record(
        action=AuditAction.VERIFICATION_REQUESTED,
        actor=acting_user,
        institution=request.institution,
        obj=request.claim,
        applicant_id=request.claim.applicant_id,
        ip=ip,
        purpose=REQUEUE_PURPOSE,
        details={
            "request": request.pk,
            "kind": request.claim.kind,
            "trigger": "backoffice",
            "requeued": True,
            "previous_state": str(previous),
        },
    )
    send_on_commit(request.pk)
    logger.warning("request %s re-queued from the back-office (was %s)", request.pk, previous)
    return RequeueOutcome.REQUEUED


@transaction.atomic
def source_breaker_reset(*, source: str, acting_user: User, ip: str | None = None) -> None:
    """Close ``source``'s breaker and clear its cooldown, for every worker (shared limiter).

    Raises ``LimiterUnavailable`` when Redis cannot be reached; the audit event is then rolled
    back with the transaction.
    """
    audit_record(
        action=AuditAction.SETTINGS_CHANGED,
        actor=acting_user,
        institution=None,
        object_type="source",
        object_id=source,
        ip=ip,
        purpose=BREAKER_RESET_PURPOSE,
        details={"breaker_reset": source},
    )
    get_limiter().reset(source)


@transaction.atomic
def source_alert_resolve(*, alert_id: int, acting_user: User, ip: str | None = None) -> bool:
    """Mark a configuration alert resolved (the admin fixed the token or the habilitation);
    False if it already was. A new refusal from the source opens a new alert."""
    alert = SourceAlert.objects.select_for_update().select_related("institution").get(pk=alert_id)
    if alert.resolved_at is not None:
        return False
    alert.resolved_at = timezone.now()
    alert.save(update_fields=["resolved_at"])
    audit_record(
        action=AuditAction.SETTINGS_CHANGED,
        actor=acting_user,
        institution=alert.institution,
        obj=alert,
        ip=ip,
        purpose=ALERT_RESOLVE_PURPOSE,
        details={"alert_resolved": alert.code, "source": alert.source},
    )
    return True
