"""Running one verification request in a worker: claim → call → classify → record.

1. **Claim** the row (``pipeline.gates.claim``: the gates pause, lease and not_before). A
   duplicate or redelivered task message finds nothing to do.
2. **Call** the source (``pipeline.call.call_source``): the gates hold, breaker and limiter,
   then the call, outside any database transaction, with a timeout on every call.
3. **Classify** the answer (``pipeline.classify.classify``): conclude, retry at a time, or
   defer.
4. **Record** it (``pipeline.record``), in one short transaction: the attempt row(s), then
   either the verdict (the request is ``done``, the claim carries the verdict, the audit trail
   records it) or the release (``pending`` again with ``not_before``). The final update only
   applies if this worker still holds the lease, so a request ends exactly once.
"""

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from admissions.infra.crypto import DecryptionError
from verifications import rematch, verdicts
from verifications.enums import Verdict
from verifications.models import SourceAlert, VerificationRequest
from verifications.pipeline import gates, record
from verifications.pipeline.call import Answer, call_source
from verifications.pipeline.classify import (
    AlertChange,
    Conclude,
    Defer,
    GaveUp,
    Retry,
    attempt_outcome,
    classify,
    given_up_decision,
)
from verifications.pipeline.questions import (
    config_from_stored,
    query_for,
    question_for,
    recipient_for,
    stored_token_of_request,
    variant_of,
)
from verifications.providers.base import ProviderNotConfigured
from verifications.providers.limits import BreakerState, LimiterUnavailable, get_limiter
from verifications.retry import RetryPolicy
from webhooks.models import WebhookEndpoint


logger = logging.getLogger(__name__)
_rng = random.SystemRandom()


@dataclass(frozen=True)
class RunOutcome:
    """What a run did: "skipped" (nothing to do), "deferred", "retry", "done" or "lost_lease"."""

    status: str
    wait: float = 0.0
    verdict: str = ""


def verification_run(*, request_id: int, task_id: str = "", worker: str = "") -> RunOutcome:
    """Run one request; safe to call any number of times for the same id."""
    worker = worker or worker_identity()
    if not gates.claim(request_id, worker, timezone.now()):
        return RunOutcome("skipped")
    request = _load(request_id)
    answer = _ask(request)
    now = timezone.now()
    step = classify(
        answer,
        failures=request.failure_count,
        failing_since=request.failing_since,
        now=now,
        policy=RetryPolicy.from_settings(),
        rng=_rng,
    )
    match step:
        case Defer():
            record.defer(request, worker, wait=step.wait, breaker_open=step.breaker_open, now=now)
            return RunOutcome("deferred", wait=step.wait)
        case Retry():
            with transaction.atomic():
                _record_attempts(request, answer, task_id)
                held = record.release(
                    request,
                    worker,
                    not_before=now + timedelta(seconds=step.delay),
                    calls=len(answer.calls),
                    failed=step.failed,
                    now=now,
                )
            return RunOutcome("retry" if held else "lost_lease", wait=step.delay)
        case Conclude():
            return _conclude(request, worker, task_id, answer, step, now)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def breaker_subject(request: VerificationRequest) -> str:
    """What the source's breaker counts this request as: its claim, the same across the
    request's retries, its identity variants, a re-run and the scheduled re-checks, so that one
    claim the source keeps failing on counts once (the limiter stores it as a fingerprint)."""
    return f"claim:{request.claim_id}"


def _load(request_id: int) -> VerificationRequest:
    """The request with everything its check reads, in one statement: its claim and
    applicant, its institution, the institution's stored token for the source (still
    encrypted: ``stored_token``), whether the institution has an open alert about the
    source (``open_alert``: only then does a success resolve alerts) and whether it has a
    webhook endpoint (``webhook_endpoints``: only then does the finish look for subscribers)."""
    return (
        VerificationRequest.objects.select_related("claim__applicant", "institution")
        .annotate(
            stored_token=stored_token_of_request(),
            open_alert=Exists(
                SourceAlert.objects.filter(
                    institution_id=OuterRef("institution_id"),
                    source=OuterRef("source"),
                    resolved_at__isnull=True,
                )
            ),
            webhook_endpoints=Exists(
                WebhookEndpoint.objects.filter(institution_id=OuterRef("institution_id"))
            ),
        )
        .get(pk=request_id)
    )


def _ask(request: VerificationRequest) -> Answer:
    """The source's answer to the request's question (its claim, with its variant if any)."""
    institution = request.institution
    source = request.source
    if not institution.source_enabled(source):
        return Answer.failed(
            ProviderNotConfigured(
                "source disabled for this institution", setting="enabled_sources", source=source
            )
        )
    try:
        stored: str | None = getattr(request, "stored_token", None)  # _load's annotation
        config = config_from_stored(source, stored)
    except DecryptionError:
        # The institution's stored token, which the configured keys cannot decrypt (a wrong key
        # rotation): nothing can be sent until staff enter it again in the back-office.
        return Answer.failed(
            ProviderNotConfigured(
                "stored token unreadable with the configured keys", setting="token", source=source
            )
        )
    query = query_for(
        request.claim, recipient=recipient_for(institution), variant=variant_of(request.variant)
    )
    return call_source(
        source,
        query,
        config,
        subject=breaker_subject(request),
        max_wait=settings.VERIFICATION_MAX_INPROCESS_WAIT,
    )


def _record_attempts(request: VerificationRequest, answer: Answer, task_id: str) -> None:
    calls = answer.calls
    if not calls and isinstance(answer.error, ProviderNotConfigured):
        calls = (answer.error.call,)  # nothing was sent: one row says why
    if calls:
        record.attempts(request, calls, attempt_outcome(answer), task_id)


def _conclude(
    request: VerificationRequest,
    worker: str,
    task_id: str,
    answer: Answer,
    step: Conclude,
    now: datetime,
) -> RunOutcome:
    alone = False
    with transaction.atomic():
        _record_attempts(request, answer, task_id)
        decision = _decide(request, answer, now)
        if (
            step.gave_up is not None
            and answer.error is not None
            and decision.reason_code == "source.unavailable"
        ):
            decision, alone = given_up_decision(
                decision,
                answer.error,
                step.gave_up,
                _source_state(request.source),
                failures=request.failure_count + 1,
                now=now,
            )
        if step.alert is AlertChange.RAISE and answer.error is not None:
            record.raise_alert(request, answer.error, now)
        elif step.alert is AlertChange.RESOLVE and getattr(request, "open_alert", True):
            record.resolve_alerts(request, now)
        if not record.finish(request, worker, decision, now, calls=len(answer.calls)):
            return RunOutcome("lost_lease")
    if alone:
        # Its re-runs and re-checks must not open the source's breaker either.
        get_limiter().set_aside(request.source, subject=breaker_subject(request))
    if decision.verdict == Verdict.UNAVAILABLE:
        logger.info(
            "request %s ended unavailable after %s failures (%s)",
            request.pk,
            request.failure_count + (0 if step.gave_up is GaveUp.SOURCE_DOWN else 1),
            decision.reason_code,
        )
    return RunOutcome("done", verdict=decision.verdict)


def _decide(request: VerificationRequest, answer: Answer, now: datetime) -> verdicts.Decision:
    """The verdict of the request's claim; for a variant, what it means for the claim as
    recorded (``rematch.claim_decision``)."""
    claim = request.claim
    variant = variant_of(request.variant)
    identity, declared = question_for(claim, variant)
    decision = verdicts.decide(
        claim.kind,
        declared=declared,
        identity=identity,
        result=answer.result,
        error=answer.error,
        now=now,
    )
    if variant is None:
        return decision
    record_identity, record_declared = question_for(claim)
    return rematch.claim_decision(
        decision, variant, identity=record_identity, declared=record_declared, now=now
    )


def _source_state(source: str) -> BreakerState | None:
    """The source's breaker as the limiter sees it now, or None when it cannot be read."""
    try:
        return get_limiter().breaker(source, with_rates=False)
    except LimiterUnavailable:
        return None
