"""The worker's writes after a call: attempts, the verdict, the release, the alerts.

Every update of the request applies only while this worker still holds it (``state=running``
and ``claimed_by=worker``), so that a request ends exactly once: a worker whose lease expired
mid-call finds its update refused (the functions return False) and records nothing more.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.ops.metrics import observe_upstream_calls
from verifications import rematch, webhook_events
from verifications.enums import AttemptOutcome, RequestState
from verifications.freshness import evidence_digest
from verifications.models import Claim, SourceAlert, VerificationAttempt, VerificationRequest
from verifications.pipeline.questions import question_digest_for, variant_of
from verifications.providers.base import CallInfo, ProviderError
from verifications.services.batches import batch_finish_if_complete
from verifications.services.notifications import verdict_change_record
from verifications.verdicts import Decision


logger = logging.getLogger(__name__)


def attempts(
    request: VerificationRequest,
    calls: tuple[CallInfo, ...],
    outcome: AttemptOutcome,
    task_id: str,
) -> None:
    """One append-only attempt row per upstream call (and the Prometheus counters)."""
    observe_upstream_calls(request.source, calls, outcome)  # Prometheus (admissions.ops)
    VerificationAttempt.objects.bulk_create(
        [
            VerificationAttempt(
                request=request,
                source=request.source,
                task_id=task_id,
                outcome=outcome,
                http_status=call.http_status,
                provider_error_code=call.provider_error_code[:32],
                duration_ms=call.duration_ms,
                upstream_request_id=call.upstream_request_id[:128],
                payload=call.redacted,
            )
            for call in calls
        ]
    )


def finish(
    request: VerificationRequest,
    worker: str,
    decision: Decision,
    now: datetime,
    *,
    calls: int,
) -> bool:
    """Mark the request done with its verdict, if this worker still holds it; the claim takes
    the verdict if it still asks what this check asked; the audit trail records it."""
    claim = request.claim
    variant = variant_of(request.variant)
    asked = claim.question_digest if variant is None else question_digest_for(claim, variant)
    updated = VerificationRequest.objects.filter(
        pk=request.pk, state=RequestState.RUNNING, claimed_by=worker
    ).update(
        question_digest=asked,
        state=RequestState.DONE,
        verdict=decision.verdict,
        reason_code=decision.reason_code,
        reason=str(decision.reason),
        reason_params=decision.reason_params,
        diff=decision.diff,
        evidence=decision.evidence,
        evidence_hash=evidence_digest(decision.evidence),
        notes=[str(note) for note in decision.notes],
        note_codes=decision.note_codes,
        finished_at=now,
        attempt_count=F("attempt_count") + calls,
        claimed_by="",
    )
    if not updated:
        return False
    # The claim takes the verdict only if it still asks what this check asked (no edit of
    # the declaration or of the identity since it started), and, for a variant, only if the
    # source found someone: a variant it does not know either changes nothing.
    applied = False
    if variant is None or rematch.found(decision):
        applied = bool(
            Claim.objects.filter(pk=claim.pk, question_digest=claim.question_digest).update(
                verdict=decision.verdict,
                verdict_reason=str(decision.reason),
                verified_at=now,
                valid_until=decision.valid_until,
                updated_at=now,
            )
        )
    # Before the audit event: every path takes the batch's row lock before the audit chain's.
    batch_finish_if_complete(batch_id=request.batch_id)
    if applied:
        verdict_change_record(
            request=request, previous_claim_verdict=claim.verdict, verdict=decision.verdict
        )
    # Webhooks: written in this transaction (the outbox), sent once it commits.
    webhook_events.verification_completed(
        request,
        verdict=decision.verdict,
        reason_code=decision.reason_code,
        applied=applied,
        now=now,
    )
    if applied:
        webhook_events.verdict_changed(
            claim=claim, request=request, previous=claim.verdict, verdict=decision.verdict, now=now
        )
    details: dict[str, object] = {
        "request": request.pk,
        "kind": claim.kind,
        "verdict": decision.verdict,
        "reason": decision.reason_code,
        "from": claim.verdict,
        "applied": applied,
    }
    if variant is not None:
        details["variant"] = variant.key
    audit_record(
        action=AuditAction.VERDICT_RECORDED,
        actor=None,
        actor_label="vigie",
        institution=request.institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        details=details,
    )
    return True


def release(
    request: VerificationRequest,
    worker: str,
    *,
    not_before: datetime,
    calls: int,
    failed: bool,
    now: datetime,
) -> bool:
    """Send the request back to pending until ``not_before``, if this worker holds it;
    ``failed`` counts one more failure (and starts ``failing_since``)."""
    changes: dict[str, object] = {
        "state": RequestState.PENDING,
        "not_before": not_before,
        "enqueued_at": None,
        "claimed_by": "",
        "claimed_at": None,
        "attempt_count": F("attempt_count") + calls,
    }
    if failed:
        changes["failure_count"] = F("failure_count") + 1
        if request.failing_since is None:
            changes["failing_since"] = now
    return bool(
        VerificationRequest.objects.filter(
            pk=request.pk, state=RequestState.RUNNING, claimed_by=worker
        ).update(**changes)
    )


def defer(
    request: VerificationRequest, worker: str, *, wait: float, breaker_open: bool, now: datetime
) -> bool:
    """A gate refused the call: back to pending for ``wait`` seconds, no attempt counted, if
    this worker holds the request. Waiting behind an open breaker starts ``failing_since``:
    it counts toward giving up (``pipeline.classify``)."""
    changes: dict[str, object] = {
        "state": RequestState.PENDING,
        "not_before": now + timedelta(seconds=wait),
        "enqueued_at": None,
        "claimed_by": "",
        "claimed_at": None,
    }
    if breaker_open and request.failing_since is None:
        changes["failing_since"] = now
    return bool(
        VerificationRequest.objects.filter(
            pk=request.pk, state=RequestState.RUNNING, claimed_by=worker
        ).update(**changes)
    )


def raise_alert(request: VerificationRequest, error: ProviderError, now: datetime) -> None:
    """Open the institution's alert for this source and code, or count one more occurrence of
    the open one. Safe when several workers raise the same alert at once: the UPDATE of an
    open alert takes its row lock (the others wait, then count in turn); when there is none,
    one INSERT wins the unique index ``one_open_alert_per_code`` and the others, refused in
    their savepoint, count on the row it opened instead of failing their whole request."""
    code = getattr(error, "code", "") or getattr(error, "setting", "") or "unknown"
    open_alert = SourceAlert.objects.filter(
        institution_id=request.institution_id,
        source=request.source,
        code=code,
        resolved_at__isnull=True,
    )
    # A few rounds at most: the alert another worker opened may be resolved before we count.
    for _round in range(3):
        if open_alert.update(count=F("count") + 1, last_seen=now):
            break
        try:
            with transaction.atomic():
                SourceAlert.objects.create(
                    institution_id=request.institution_id,
                    source=request.source,
                    code=code,
                    http_status=error.call.http_status,
                    last_seen=now,
                )
            break
        except IntegrityError:
            continue  # opened meanwhile by another worker: count on it
    logger.warning(
        "source %s refused institution %s's request: %s (alert raised)",
        request.source,
        request.institution_id,
        code,
    )


def resolve_alerts(request: VerificationRequest, now: datetime) -> None:
    """The source answers this institution again: its alerts about the source are over."""
    SourceAlert.objects.filter(
        institution_id=request.institution_id,
        source=request.source,
        resolved_at__isnull=True,
    ).update(resolved_at=now)
