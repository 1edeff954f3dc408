"""The worker's writes after a call: attempts, the verdict, the release, the alerts.

Every update of the request applies only while this worker still holds it (``state=running``
and ``claimed_by=worker``), so that a request ends exactly once: a worker whose lease expired
mid-call finds its update refused (the functions return False) and records nothing more.
"""

import logging
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.db.models.sql.subqueries import UpdateQuery

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.ops.metrics import observe_upstream_calls
from verifications import rematch, webhook_events
from verifications.enums import AttemptOutcome, BatchKind, BatchStatus, RequestState
from verifications.freshness import evidence_digest
from verifications.models import (
    Batch,
    Claim,
    SourceAlert,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.pipeline.questions import question_digest_for, variant_of
from verifications.providers.base import CallInfo, ProviderError
from verifications.services.batches import (
    batch_finish_if_complete,
    batch_finish_if_complete_locked,
)
from verifications.services.notifications import previous_definitive, verdict_change_record
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
    the verdict if it still asks what this check asked; the audit trail records it.

    On PostgreSQL the request's update, the claim's, the read of the claim's previous
    definitive verdict and the batch's row lock are one statement (``_FINISH_SQL``); then,
    in a batch, whether the batch is complete (one statement, after the lock), and the audit
    event (one)."""
    claim = request.claim
    variant = variant_of(request.variant)
    asked = claim.question_digest if variant is None else question_digest_for(claim, variant)
    finished = VerificationRequest.objects.filter(
        pk=request.pk, state=RequestState.RUNNING, claimed_by=worker
    )
    done_changes: dict[str, object] = {
        "question_digest": asked,
        "state": RequestState.DONE,
        "verdict": decision.verdict,
        "reason_code": decision.reason_code,
        "reason": str(decision.reason),
        "reason_params": decision.reason_params,
        "diff": decision.diff,
        "evidence": decision.evidence,
        "evidence_hash": evidence_digest(decision.evidence),
        "notes": [str(note) for note in decision.notes],
        "note_codes": decision.note_codes,
        "finished_at": now,
        "attempt_count": F("attempt_count") + calls,
        "claimed_by": "",
    }
    # The claim takes the verdict only if it still asks what this check asked (no edit of
    # the declaration or of the identity since it started), and, for a variant, only if the
    # source found someone: a variant it does not know either changes nothing.
    applies = variant is None or rematch.found(decision)
    same_question = Claim.objects.filter(pk=claim.pk, question_digest=claim.question_digest)
    claim_changes: dict[str, object] = {
        "verdict": decision.verdict,
        "verdict_reason": str(decision.reason),
        "verified_at": now,
        "valid_until": decision.valid_until,
        "updated_at": now,
    }
    previous: tuple[int, str] | Literal[False] | None = False  # not read yet
    if connection.vendor == "postgresql":
        updated, applied, previous = _finish_in_one_statement(
            request, finished, done_changes, same_question, claim_changes, applies=applies
        )
        if not updated:
            return False
        # Before the audit event: every path takes the batch's row lock before the audit
        # chain's (taken by the statement above).
        if request.batch_id is not None:
            batch_finish_if_complete_locked(
                batch_id=request.batch_id,
                webhook_endpoints=getattr(request, "webhook_endpoints", True),
            )
    else:
        if not finished.update(**done_changes):
            return False
        applied = applies and bool(same_question.update(**claim_changes))
        batch_finish_if_complete(batch_id=request.batch_id)  # before the audit event, as above
    if applied:
        verdict_change_record(
            request=request,
            previous_claim_verdict=claim.verdict,
            verdict=decision.verdict,
            previous=previous,
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
        # The sentence's values (never a name or a birth date: verdicts/reasons.py), so that
        # the journal's export says the reason whole.
        "reason_params": decision.reason_params,
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


def _finish_in_one_statement(
    request: VerificationRequest,
    finished: QuerySet[VerificationRequest],
    done_changes: dict[str, object],
    same_question: QuerySet[Claim],
    claim_changes: dict[str, object],
    *,
    applies: bool,
) -> tuple[bool, bool, tuple[int, str] | None]:
    """``finish``'s updates on PostgreSQL, in one statement (``_FINISH_SQL``): whether the
    request was updated, whether the claim was, and the claim's previous definitive check
    (id, verdict), if any."""
    done_sql, done_params = _update_sql(finished, done_changes)
    claim_sql, claim_params = _update_sql(same_question, claim_changes)
    previous_sql, previous_params = (
        previous_definitive(request).values("pk", "verdict").query.sql_with_params()
    )
    batch_sql, batch_params = "SELECT 1 WHERE FALSE", ()  # no batch: nothing to lock
    if request.batch_id is not None:
        batch_sql, batch_params = (
            Batch.objects.filter(
                pk=request.batch_id,
                kind=BatchKind.VERIFICATION,
                status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED],
            )
            .order_by()
            .values("pk")
            .query.sql_with_params()
        )
    sql = _FINISH_SQL.format(
        done=done_sql,
        claim=claim_sql,
        applies="TRUE" if applies else "FALSE",
        previous=previous_sql,
        batch=batch_sql,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*done_params, *claim_params, *previous_params, *batch_params))
        updated, applied, previous_id, previous_verdict, _locked = cursor.fetchone()
    previous = (previous_id, previous_verdict) if previous_id is not None else None
    return bool(updated), bool(applied), previous


# A request's finish in one statement (a data-modifying WITH: PostgreSQL only; elsewhere
# ``finish`` sends the updates one by one). Every part runs in the statement's snapshot:
# ``done`` updates the request if this worker still holds it; ``applied`` updates the claim
# only if ``done`` did (and the claim still asks the same question); ``previous`` reads the
# claim's last definitive check (this one is not done in that snapshot, and is excluded
# anyway); ``locked`` takes the batch's row lock, so that the next statement, which decides
# whether the batch is complete, sees every request finished before it got the lock.
_FINISH_SQL = """
WITH done AS ({done} RETURNING 1),
applied AS ({claim} AND {applies} AND EXISTS (SELECT 1 FROM done) RETURNING 1),
previous (id, verdict) AS ({previous}),
locked AS ({batch} FOR UPDATE)
SELECT (SELECT COUNT(*) FROM done), (SELECT COUNT(*) FROM applied),
       (SELECT id FROM previous), (SELECT verdict FROM previous), (SELECT COUNT(*) FROM locked)
"""


def _update_sql(queryset: QuerySet[Any], values: dict[str, object]) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of ``queryset.update(**values)``, as Django would send it."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    return sql, tuple(params)


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
