"""One synchronous check, outside the request/worker pipeline: what the `verify` CLI runs.

Same providers, same limiter, same retry rules and same verdicts as the workers; short waits
happen in-process, and a wait longer than ``max_wait`` ends the check ``unavailable`` with the
reason, rather than keeping a terminal busy for minutes.
"""

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from admissions.claims import Declared
from admissions.enums import ClaimKind
from admissions.models import Institution
from verifications import verdicts
from verifications.providers import VERIFIERS
from verifications.providers.base import (
    CallInfo,
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderResult,
    ProviderUnavailable,
    Query,
)
from verifications.providers.limits import get_limiter
from verifications.retry import RetryPolicy, backoff_delay, conflict_delay, should_give_up
from verifications.services.inputs import token_key
from verifications.services.run import (
    _answered,
    _session,
    admit,
    failure_code,
    hold_identical,
    observe,
)


_rng = random.SystemRandom()


@dataclass
class CheckResult:
    decision: verdicts.Decision
    result: ProviderResult | None
    error: ProviderError | None
    calls: list[CallInfo] = field(default_factory=list)


def check_now(
    *,
    kind: str,
    declared: Declared,
    identity: Identity,
    query: Query,
    config: ProviderConfig,
    institution: Institution | None = None,
    max_wait: float = 10.0,
    now: datetime | None = None,
) -> CheckResult:
    source = ClaimKind(kind).source
    policy = RetryPolicy.from_settings()
    limiter = get_limiter()
    key = token_key(config)
    calls: list[CallInfo] = []
    failures = 0
    started = timezone.now()
    # The breaker counts this check as one request, however many times it is retried.
    subject = f"check:{uuid.uuid4().hex}"
    result: ProviderResult | None = None
    error: ProviderError | None = None
    while True:
        sent_at = 0.0
        held = ""
        if config.configured:
            held = hold_identical(source, key, query, config, max_wait=max_wait)
            grant = admit(source, key, max_wait=max_wait) if held else None
            if grant is None or not grant.granted:
                if held:
                    limiter.release(held)
                reason = grant.reason if grant else "identical request in flight"
                error = ProviderUnavailable(
                    f"no slot within {max_wait:.0f} s ({reason})",
                    source=source,
                    retry_in=grant.wait if grant else 1.0,
                )
                break
            sent_at = grant.at
        try:
            result = VERIFIERS[source](_session(), query, config)
            error = None
        except ProviderError as exc:
            result, error = None, exc
        if held and _answered(result, error):
            limiter.release(held)
        these = result.calls if result is not None else error.calls
        calls.extend(c for c in these if c.http_status is not None or c.duration_ms)
        observe(source, key, these, sent_at=sent_at)
        last = these[-1] if these else CallInfo()
        if isinstance(error, ProviderRateLimited):
            if not error.conflict:
                limiter.pause(source, error.retry_after, reason="429")
            delay = conflict_delay(policy, rng=_rng) if error.conflict else error.retry_after
        elif isinstance(error, ProviderUnavailable):
            limiter.record_failure(source, error=failure_code(last), subject=subject)
            failures += 1
            if should_give_up(
                failure_count=failures, failing_since=started, now=timezone.now(), policy=policy
            ):
                break
            delay = backoff_delay(failures, policy, retry_in=error.retry_in, rng=_rng)
        else:
            if not isinstance(error, ProviderNotConfigured):
                limiter.record_success(source, subject=subject)
            break
        if delay > max_wait:
            break
        time.sleep(delay)
    decision = verdicts.decide(
        kind,
        declared=declared,
        identity=identity,
        result=result,
        error=error,
        now=now or timezone.now(),
    )
    return CheckResult(decision=decision, result=result, error=error, calls=calls)
