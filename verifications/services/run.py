"""Running one verification request: claim → admit → call → record.

1. **Claim** the row with a conditional update (only ``pending`` and due, or ``running`` with
   an expired lease). A duplicate or redelivered task message finds nothing to do.
2. **Admit**: the shared limiter grants a slot for the source (and token, and this machine's
   IP) and the source's circuit breaker lets the call through. A short wait happens here; a
   longer one sends the row back to ``pending`` with ``not_before``.
3. **Call** the provider outside any database transaction, with a timeout on every call.
4. **Record**, in one short transaction, the attempt row(s), then either the verdict (the
   request is ``done``, the claim carries the verdict, the audit trail records it) or the
   retry decision (``pending`` again with ``not_before``). The final update only applies if
   this worker still holds the lease, so a request ends exactly once.
"""

import dataclasses
import functools
import hashlib
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests as http
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from admissions.audit import audit_record
from admissions.enums import AuditAction, BatchStatus, Verdict
from admissions.models import Batch, Claim
from admissions.ops.metrics import observe_upstream_calls
from verifications import rematch, verdicts
from verifications.enums import AttemptOutcome, RequestState
from verifications.freshness import evidence_digest
from verifications.models import SourceAlert, VerificationAttempt, VerificationRequest
from verifications.providers import VERIFIERS
from verifications.providers.base import (
    CallInfo,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)
from verifications.providers.http import build_session
from verifications.providers.limits import (
    BreakerState,
    Decision,
    LimiterUnavailable,
    get_limiter,
)
from verifications.retry import RetryPolicy, backoff_delay, conflict_delay, should_give_up
from verifications.services.batches import batch_finish_if_complete
from verifications.services.inputs import (
    config_for,
    query_for,
    question_digest_for,
    question_for,
    recipient_for,
    token_key,
    variant_of,
)
from verifications.services.notifications import verdict_change_record
from verifications.verdicts.common import error_decision


logger = logging.getLogger(__name__)
_rng = random.SystemRandom()
_local = threading.local()


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _session() -> http.Session:
    """One session per worker thread, kept across tasks: connections to the sources are
    reused (keep-alive, TLS), and requests.Session is not shared between threads."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = build_session()
    return session


@dataclass(frozen=True)
class RunOutcome:
    """What a run did: "skipped" (nothing to do), "deferred", "retry", "done" or "lost_lease"."""

    status: str
    wait: float = 0.0
    verdict: str = ""


# --- 1. Claim ---------------------------------------------------------------------------------


def _claim(request_id: int, worker: str, now: datetime) -> bool:
    """Take the row, unless it is not due, someone holds it, or its batch is paused (a message
    sent before the pause is skipped; the dispatcher sends the request again on resume)."""
    lease_expired_before = now - settings.VERIFICATION_LEASE
    due = Q(state=RequestState.PENDING) & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    abandoned = Q(state=RequestState.RUNNING, claimed_at__lt=lease_expired_before)
    paused = Batch.objects.filter(status=BatchStatus.PAUSED).values("id")
    return bool(
        VerificationRequest.objects.filter(due | abandoned, pk=request_id)
        .exclude(batch_id__in=paused)
        .update(state=RequestState.RUNNING, claimed_at=now, claimed_by=worker)
    )


# --- 2. Admit ---------------------------------------------------------------------------------


def admit(source: str, key: str, *, max_wait: float) -> Decision:
    """A slot from the shared limiter, waiting for it in-process at most ``max_wait`` seconds.

    The caller must send its request at once when granted (the limiter's guarantee is about
    grant times)."""
    limiter = get_limiter()
    deadline = time.monotonic() + max_wait
    while True:
        decision = limiter.acquire(source, token_key=key)
        if decision.granted or decision.wait > deadline - time.monotonic():
            return decision
        time.sleep(max(decision.wait, 0.001))


# How long a check may wait, in its worker, for the slot of a follow-up call (Certif Info's
# detail after its search): the first call is spent, so waiting beats starting over.
FOLLOW_UP_MAX_WAIT = 10.0


class FollowUpNotAdmitted(ProviderUnavailable):
    """No slot for a follow-up call in time: retried later; not the source's failure."""


def admit_follow_up(source: str, key: str) -> None:
    """Admission of a check's second (third...) upstream call: each call takes its own slot,
    so a source whose check makes two calls is never sent twice its allowed rate."""
    grant = admit(source, key, max_wait=FOLLOW_UP_MAX_WAIT)
    if not grant.granted and grant.reason.startswith("breaker"):
        # The breaker decided for the whole check when it admitted the first call: this check
        # may be the half-open probe itself, which must be able to finish.
        return
    if not grant.granted:
        raise FollowUpNotAdmitted(
            "no rate-limit slot for a follow-up call", retry_in=grant.wait, source=source
        )


def hold_identical(source: str, key: str, query: object, config: object, *, max_wait: float) -> str:
    """Hold the fingerprint of these exact parameters while the call is in flight: identical
    requests (two claims of one person, say) are never in flight together, the rule behind
    API Particulier's 409 00015. Returns the hold's key, or "" when it stayed taken."""
    digest = hashlib.sha256(f"{source}|{key}|{query!r}".encode()).hexdigest()[:32]
    hold_key = f"inflight:{source}:{digest}"
    # Outlives the slowest call; a holder that died frees it by this time anyway.
    seconds = min(settings.VERIFICATION_LEASE.total_seconds(), 2 * (3 + config.timeout) + 5)
    limiter = get_limiter()
    deadline = time.monotonic() + max_wait
    while not limiter.hold(hold_key, seconds):
        if time.monotonic() >= deadline:
            return ""
        time.sleep(0.05)
    return hold_key


def _answered(result: ProviderResult | None, error: ProviderError | None) -> bool:
    """Whether the source answered. After a timeout or a cut connection the source may still
    be working on the request: its hold is kept until it expires, so that an identical request
    is not sent meanwhile (API Particulier would answer 409 00015)."""
    calls = result.calls if result is not None else error.calls if error is not None else ()
    return bool(calls) and calls[-1].http_status is not None


def observe(source: str, key: str, calls: tuple[CallInfo, ...], *, sent_at: float) -> None:
    """Tell the limiter what the source said of its budget (RateLimit-* headers)."""
    answered = [call for call in calls if call.http_status is not None]
    if answered:
        last = answered[-1]
        get_limiter().observe(
            source,
            token_key=key,
            limit=last.ratelimit_limit,
            remaining=last.ratelimit_remaining,
            reset_at=last.ratelimit_reset,
            sent_at=sent_at or None,
        )


# --- 4. Record --------------------------------------------------------------------------------


def _outcome_of(error: ProviderError | None, result: ProviderResult | None) -> AttemptOutcome:
    if result is not None:
        return AttemptOutcome.ANSWERED if result.found else AttemptOutcome.NOT_FOUND
    match error:
        case ProviderRateLimited(conflict=True):
            return AttemptOutcome.CONFLICT
        case ProviderRateLimited():
            return AttemptOutcome.RATE_LIMITED
        case ProviderNotConfigured():
            return AttemptOutcome.SKIPPED_NOT_CONFIGURED
        case ProviderRejected():
            return AttemptOutcome.REJECTED
    return AttemptOutcome.UNAVAILABLE


def _record_attempts(
    request: VerificationRequest,
    calls: tuple[CallInfo, ...],
    outcome: AttemptOutcome,
    task_id: str,
) -> None:
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


def _finish(
    request: VerificationRequest,
    worker: str,
    decision: verdicts.Decision,
    now: datetime,
    *,
    calls: int,
) -> bool:
    """Mark the request done with its verdict, if this worker still holds it."""
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
    details = {
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


def _release(
    request: VerificationRequest,
    worker: str,
    *,
    not_before: datetime,
    calls: int,
    failed: bool,
    now: datetime,
) -> bool:
    """Send the request back to pending until ``not_before``, if this worker holds it."""
    changes: dict = {
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


def _raise_alert(request: VerificationRequest, error: ProviderError, now: datetime) -> None:
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


def _decide(
    request: VerificationRequest,
    *,
    result: ProviderResult | None,
    error: ProviderError | None,
    now: datetime,
) -> verdicts.Decision:
    claim = request.claim
    variant = variant_of(request.variant)
    identity, declared = question_for(claim, variant)
    decision = verdicts.decide(
        claim.kind, declared=declared, identity=identity, result=result, error=error, now=now
    )
    if variant is None:
        return decision
    record_identity, record_declared = question_for(claim)
    return rematch.claim_decision(
        decision, variant, identity=record_identity, declared=record_declared, now=now
    )


# --- The whole run ----------------------------------------------------------------------------


def _load(request_id: int) -> VerificationRequest:
    return VerificationRequest.objects.select_related(
        "claim__applicant", "institution", "batch"
    ).get(pk=request_id)


def verification_run(*, request_id: int, task_id: str = "", worker: str = "") -> RunOutcome:
    """Run one request; safe to call any number of times for the same id."""
    worker = worker or worker_identity()
    policy = RetryPolicy.from_settings()
    if not _claim(request_id, worker, timezone.now()):
        return RunOutcome("skipped")
    request = _load(request_id)
    institution = request.institution
    source = request.source

    if not institution.source_enabled(source):
        error: ProviderError = ProviderNotConfigured(
            "source disabled for this institution", setting="enabled_sources", source=source
        )
        return _conclude(request, worker, task_id, None, error, policy, calls=())

    config = config_for(source, institution)
    query = query_for(
        request.claim, recipient=recipient_for(institution), variant=variant_of(request.variant)
    )
    key = token_key(config)

    sent_at = 0.0
    held = ""
    limiter = get_limiter()
    if config.configured:
        max_wait = settings.VERIFICATION_MAX_INPROCESS_WAIT
        held = hold_identical(source, key, query, config, max_wait=max_wait)
        if not held:
            return _defer(request, worker, wait=1.0, reason="identical_in_flight", policy=policy)
        grant = admit(source, key, max_wait=max_wait)
        if not grant.granted:
            limiter.release(held)
            return _defer(request, worker, wait=grant.wait, reason=grant.reason, policy=policy)
        sent_at = grant.at
        config = dataclasses.replace(
            config, admit_follow_up=functools.partial(admit_follow_up, source, key)
        )

    result: ProviderResult | None = None
    error = None
    try:
        result = VERIFIERS[source](_session(), query, config)
    except ProviderError as exc:
        error = exc
    if held and _answered(result, error):
        limiter.release(held)
    calls = result.calls if result is not None else error.calls
    observe(source, key, calls, sent_at=sent_at)
    last = calls[-1] if calls else CallInfo()
    subject = breaker_subject(request)
    if isinstance(error, FollowUpNotAdmitted):
        limiter.record_success(source, subject=subject)  # the source answered the first call
    elif isinstance(error, ProviderUnavailable):
        limiter.record_failure(source, error=failure_code(last), subject=subject)
    elif isinstance(error, ProviderRateLimited) and not error.conflict:
        limiter.pause(source, error.retry_after, reason="429")
    elif not isinstance(error, ProviderNotConfigured):
        limiter.record_success(source, subject=subject)
    return _conclude(request, worker, task_id, result, error, policy, calls=calls)


def breaker_subject(request: VerificationRequest) -> str:
    """What the source's breaker counts this request as: its claim, the same across the
    request's retries, its identity variants, a re-run and the scheduled re-checks, so that one
    claim the source keeps failing on counts once (the limiter stores it as a fingerprint)."""
    return f"claim:{request.claim_id}"


def failure_code(call: CallInfo) -> str:
    """The short code of a failed call for the breaker's last error: the source's own code,
    else what Vigie recorded (``timeout``...), else the HTTP status (``http_502``)."""
    code = call.provider_error_code or str(call.redacted.get("error") or "")
    if not code and call.http_status:
        code = f"http_{call.http_status}"
    return code or "unavailable"


def _source_state(source: str) -> BreakerState | None:
    """The source's breaker as the limiter sees it now, or None when it cannot be read."""
    try:
        return get_limiter().breaker(source, with_rates=False)
    except LimiterUnavailable:
        return None


def _defer(
    request: VerificationRequest, worker: str, *, wait: float, reason: str, policy: RetryPolicy
) -> RunOutcome:
    """No slot now: back to pending. An open breaker counts toward giving up: it opens only
    when the source fails for many different requests (``providers.limits``), that is when the
    source really is down; a request given up behind it ends ``source.down``."""
    now = timezone.now()
    breaker_open = reason.startswith("breaker")
    if breaker_open and should_give_up(
        failure_count=0, failing_since=request.failing_since, now=now, policy=policy
    ):
        error = ProviderUnavailable("circuit breaker open", source=request.source)
        return _conclude(request, worker, "", None, error, policy, calls=(), give_up=True)
    changes: dict = {
        "state": RequestState.PENDING,
        "not_before": now + timedelta(seconds=wait),
        "enqueued_at": None,
        "claimed_by": "",
        "claimed_at": None,
    }
    if breaker_open and request.failing_since is None:
        changes["failing_since"] = now
    VerificationRequest.objects.filter(
        pk=request.pk, state=RequestState.RUNNING, claimed_by=worker
    ).update(**changes)
    return RunOutcome("deferred", wait=wait)


def _conclude(
    request: VerificationRequest,
    worker: str,
    task_id: str,
    result: ProviderResult | None,
    error: ProviderError | None,
    policy: RetryPolicy,
    *,
    calls: tuple[CallInfo, ...],
    give_up: bool = False,
) -> RunOutcome:
    now = timezone.now()
    outcome = _outcome_of(error, result)
    with transaction.atomic():
        if calls or isinstance(error, ProviderNotConfigured):
            _record_attempts(request, calls or (error.call,), outcome, task_id)
        n = len(calls)
        if isinstance(error, ProviderRateLimited):
            delay = conflict_delay(policy, rng=_rng) if error.conflict else float(error.retry_after)
            held = _release(
                request,
                worker,
                not_before=now + timedelta(seconds=delay),
                calls=n,
                failed=False,
                now=now,
            )
            return RunOutcome("retry" if held else "lost_lease", wait=delay)
        if isinstance(error, ProviderUnavailable) and not give_up:
            failures = request.failure_count + 1
            if not should_give_up(
                failure_count=failures,
                failing_since=request.failing_since or now,
                now=now,
                policy=policy,
            ):
                delay = backoff_delay(failures, policy, retry_in=error.retry_in, rng=_rng)
                held = _release(
                    request,
                    worker,
                    not_before=now + timedelta(seconds=delay),
                    calls=n,
                    failed=True,
                    now=now,
                )
                return RunOutcome("retry" if held else "lost_lease", wait=delay)
        decision = _decide(request, result=result, error=error, now=now)
        alone = False
        if (
            isinstance(error, ProviderUnavailable)
            and not isinstance(error, FollowUpNotAdmitted)
            and decision.reason_code == "source.unavailable"
        ):
            decision, alone = _given_up(request, error, decision, now, give_up=give_up)
        if isinstance(error, ProviderRejected | ProviderNotConfigured):
            _raise_alert(request, error, now)
        elif result is not None:
            # The source answers this institution again: its configuration alerts are over.
            SourceAlert.objects.filter(
                institution_id=request.institution_id,
                source=request.source,
                resolved_at__isnull=True,
            ).update(resolved_at=now)
        if not _finish(request, worker, decision, now, calls=n):
            return RunOutcome("lost_lease")
    if alone:
        # Its re-runs and re-checks must not open the source's breaker either.
        get_limiter().set_aside(request.source, subject=breaker_subject(request))
    if decision.verdict == Verdict.UNAVAILABLE:
        logger.info(
            "request %s ended unavailable after %s failures (%s)",
            request.pk,
            request.failure_count + (0 if give_up else 1),
            decision.reason_code,
        )
    return RunOutcome("done", verdict=decision.verdict)


def _given_up(
    request: VerificationRequest,
    error: ProviderUnavailable,
    decision: verdicts.Decision,
    now: datetime,
    *,
    give_up: bool,
) -> tuple[verdicts.Decision, bool]:
    """Why an unavailable request was given up, in its reason: the source is down (it waited
    behind the open breaker: ``give_up``), or the source answered other requests while this one
    spent its own retries (failing alone: the second value is True), or neither is known."""
    state = _source_state(request.source)
    if give_up:
        why = error_decision(
            error, now, source_down=True, last_error=state.last_error if state else ""
        )
    elif state is not None and not state.down and state.answered > 0:
        why = error_decision(error, now, failing_alone=True, failures=request.failure_count + 1)
    else:
        return decision, False
    # The text only: what ``_decide`` added (the variant asked...) stands.
    decision = dataclasses.replace(
        decision, reason_code=why.reason_code, reason=why.reason, reason_params=why.reason_params
    )
    return decision, not give_up
