"""One synchronous check, outside the request/worker pipeline: what the `verify` CLI runs.

The same core as the workers (``verifications.pipeline``): the same gates, providers, limiter,
retry rules (``pipeline.classify``) and verdicts. Short waits happen in-process; a wait longer
than ``max_wait`` (a gate's, or a retry's) ends the check with the last error, ``unavailable``,
rather than keeping a terminal busy for minutes.
"""

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from admissions.models import Institution
from verifications import verdicts
from verifications.claims import Declared
from verifications.enums import ClaimKind
from verifications.pipeline.call import call_source
from verifications.pipeline.classify import Retry, classify
from verifications.providers.base import (
    CallInfo,
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderResult,
    Query,
)
from verifications.retry import RetryPolicy


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
    calls: list[CallInfo] = []
    failures = 0
    started = timezone.now()
    # The breaker counts this check as one request, however many times it is retried.
    subject = f"check:{uuid.uuid4().hex}"
    while True:
        answer = call_source(source, query, config, subject=subject, max_wait=max_wait)
        calls.extend(c for c in answer.calls if c.http_status is not None or c.duration_ms)
        step = classify(
            answer,
            failures=failures,
            failing_since=started,
            now=timezone.now(),
            policy=policy,
            rng=_rng,
        )
        # Anything but a retry soon enough ends the check: a conclusion, a retry later than
        # ``max_wait``, or a gate that stayed closed for ``max_wait`` (deferred).
        if not isinstance(step, Retry) or step.delay > max_wait:
            break
        if step.failed:
            failures += 1
        time.sleep(step.delay)
    decision = verdicts.decide(
        kind,
        declared=declared,
        identity=identity,
        result=answer.result,
        error=answer.error,
        now=now or timezone.now(),
    )
    return CheckResult(decision=decision, result=answer.result, error=answer.error, calls=calls)
