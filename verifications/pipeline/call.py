"""One call to a source: :func:`call_source`, the same for the worker, the CLI and what follows.

``call_source`` passes the call's gates (hold, breaker, limiter: ``pipeline.gates``), calls the
provider client outside any database transaction, frees the hold once the source answered, and
tells the limiter what the answer said: its ``RateLimit-*`` headers (``observe``), and whether
the source answered (``record_success``), failed (``record_failure``: 5xx, timeouts) or asked
for the whole source to pause (a 429's ``Retry-After``). What happens next is
``pipeline.classify``'s to say.
"""

import dataclasses
import functools
import threading
from dataclasses import dataclass

import requests

from verifications.pipeline.gates import (
    FollowUpNotAdmitted,
    NotAdmitted,
    admit_call,
    admit_follow_up,
)
from verifications.providers import VERIFIERS
from verifications.providers.base import (
    CallInfo,
    ProviderConfig,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderResult,
    ProviderUnavailable,
    Query,
)
from verifications.providers.http import build_session
from verifications.providers.limits import get_limiter


@dataclass(frozen=True)
class Answer:
    """What one call to a source gave: exactly one of ``result`` (a definite answer, "not
    found" included) and ``error`` (the source failed or refused, or a gate refused the call:
    ``gates.NotAdmitted``), and the upstream calls made, in order (none when nothing was
    sent; two for Certif Info's search and detail)."""

    result: ProviderResult | None
    error: ProviderError | None
    calls: tuple[CallInfo, ...]

    @classmethod
    def failed(cls, error: ProviderError) -> "Answer":
        """The answer of a call that never left: the error says why."""
        return cls(result=None, error=error, calls=())


def call_source(
    source: str, query: Query, config: ProviderConfig, *, subject: str, max_wait: float
) -> Answer:
    """Call ``source`` once with ``query``, through its gates.

    ``subject`` is what the source's breaker counts this call as: one key per check, the same
    across its retries (the worker: its claim). ``max_wait`` bounds each in-process wait for a
    gate. A source that is not configured is called without gates: its client refuses before
    sending anything (``ProviderNotConfigured``)."""
    sent_at = 0.0
    hold = ""
    if config.configured:
        admitted = admit_call(source, query, config, max_wait=max_wait)
        if isinstance(admitted, NotAdmitted):
            return Answer.failed(admitted)
        hold, sent_at = admitted.hold, admitted.at
        config = dataclasses.replace(
            config, admit_follow_up=functools.partial(admit_follow_up, source, config.token)
        )
    result: ProviderResult | None = None
    error: ProviderError | None = None
    try:
        result = VERIFIERS[source](_session(), query, config)
        calls = result.calls
    except ProviderError as exc:
        error = exc
        calls = exc.calls
    limiter = get_limiter()
    if hold and _answered(calls):
        limiter.release(hold)
    _observe(source, config.token, calls, sent_at=sent_at)
    _report_to_breaker(source, error, calls, subject=subject)
    return Answer(result=result, error=error, calls=calls)


def failure_code(call: CallInfo) -> str:
    """The short code of a failed call for the breaker's last error: the source's own code,
    else what Vigie recorded (``timeout``...), else the HTTP status (``http_502``)."""
    code = call.provider_error_code or str(call.redacted.get("error") or "")
    if not code and call.http_status:
        code = f"http_{call.http_status}"
    return code or "unavailable"


_local = threading.local()


def _session() -> requests.Session:
    """One session per thread, kept across calls: connections to the sources are reused
    (keep-alive, TLS), and a requests.Session is not shared between threads."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = build_session()
    return session


def _answered(calls: tuple[CallInfo, ...]) -> bool:
    """Whether the source answered. After a timeout or a cut connection the source may still
    be working on the request: its hold is kept until it expires, so that an identical request
    is not sent meanwhile (API Particulier would answer 409 00015)."""
    return bool(calls) and calls[-1].http_status is not None


def _observe(source: str, token: str, calls: tuple[CallInfo, ...], *, sent_at: float) -> None:
    """Tell the limiter what the source said of its budget (``RateLimit-*`` headers)."""
    answered = [call for call in calls if call.http_status is not None]
    if answered:
        last = answered[-1]
        get_limiter().observe(
            source,
            token=token,
            limit=last.ratelimit_limit,
            remaining=last.ratelimit_remaining,
            reset_at=last.ratelimit_reset,
            sent_at=sent_at or None,
        )


def _report_to_breaker(
    source: str, error: ProviderError | None, calls: tuple[CallInfo, ...], *, subject: str
) -> None:
    """Tell the source's breaker how the call went (``providers.limits``, "The breaker")."""
    limiter = get_limiter()
    if isinstance(error, FollowUpNotAdmitted):
        limiter.record_success(source, subject=subject)  # the source answered the first call
    elif isinstance(error, ProviderUnavailable):
        last = calls[-1] if calls else CallInfo()
        limiter.record_failure(source, error=failure_code(last), subject=subject)
    elif isinstance(error, ProviderRateLimited) and not error.conflict:
        limiter.pause(source, error.retry_after, reason="429")
    elif not isinstance(error, ProviderNotConfigured):
        limiter.record_success(source, subject=subject)
