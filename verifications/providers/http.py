"""HTTP plumbing shared by the provider clients.

* :func:`build_session` -- one ``requests.Session`` per task run: a project ``User-Agent``,
  ``Accept: application/json``, **no urllib3 auto-retry** (retries belong to the pipeline, so
  that each one is audited) and a default ``(connect, read)`` timeout on every request.
* :func:`get` -- performs one GET for a provider, timed, with the configuration's timeouts and a
  deadline on the whole exchange, a bounded body, no redirect following; it captures
  ``X-Request-ID`` and the ``RateLimit-*`` headers into a :class:`CallInfo`, parses JSON, and
  maps transport failures to :class:`ProviderUnavailable` (or :class:`ProviderNotConfigured` for
  an unusable base URL). HTTP statuses are left to the provider, which knows its error format
  and its business answers; :func:`raise_for_status` is the common fallback it ends with.

Identities travel in query strings (API Particulier) and attestation numbers in paths, so URLs
are never logged nor put in exception messages: logs name the *route template*; transport
exceptions are re-raised ``from None`` (requests' messages contain the full URL); and
:func:`build_session` installs a filter that scrubs request targets (paths and query strings)
from urllib3's debug log (``admissions.infra.log_filters``).
"""

import datetime as dt
import email.utils
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry

from admissions.infra.log_filters import RedactQueryStrings
from verifications.providers.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    UNEXPECTED_REDIRECT,
    CallInfo,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from verifications.providers.limits import send_delay


logger = logging.getLogger("verifications.providers")

USER_AGENT = "Vigie/0.1 (verification des declarations de candidats; python-requests)"
# ``VerificationAttempt.upstream_request_id`` is 128 characters long.
_MAX_REQUEST_ID = 128


# --- Session ----------------------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    """A session that never sends a request without a timeout."""

    default_timeout: tuple[float, float] = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)

    def send(self, request: Any, **kwargs: Any) -> Any:
        # When the request left after its grant feeds the limiter's margin (told once the
        # answer is in, so that telling it never delays the request).
        started = time.monotonic()
        try:
            return super().send(request, **kwargs)
        finally:
            send_delay.sent(started)


def _install_log_redaction() -> None:
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactQueryStrings) for f in urllib3_logger.filters):
        urllib3_logger.addFilter(RedactQueryStrings(paths=True))


def build_session(*, user_agent: str = USER_AGENT) -> requests.Session:
    """A session for provider calls: no automatic retry, a timeout on every request."""
    _install_log_redaction()
    session = _TimeoutSession()
    # Retry(total=0): urllib3 never retries a connection, a read or a status by itself.
    adapter = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
    return session


# --- One GET ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as providers see it. ``payload`` is the parsed JSON body (``None`` when the
    body is empty or not JSON; ``is_json`` tells which)."""

    status: int
    headers: CaseInsensitiveDict[str]
    payload: Any
    is_json: bool
    call: CallInfo

    def call_with(self, *, provider_error_code: str = "", **redacted: Any) -> CallInfo:
        """The call info completed by the provider (its error code, more redacted keys)."""
        summary = dict(self.call.redacted)
        if provider_error_code:
            summary["error_code"] = provider_error_code
        summary.update({k: v for k, v in redacted.items() if v is not None})
        return replace(self.call, provider_error_code=provider_error_code, redacted=summary)


class _BodyTooLarge(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


def get(
    session: requests.Session,
    config: ProviderConfig,
    path: str,
    *,
    source: str,
    route: str,
    params: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """GET ``config.base_url + path``.

    ``route`` is the path template used in logs and in the redacted summary
    (``/api/attestation/{code}``): never the path itself, which may hold an identifier.
    """
    if not config.configured:
        raise ProviderNotConfigured("no base URL", setting="base_url", source=source)
    param_names = sorted({name for name, _ in _pairs(params)})
    redacted: dict[str, Any] = {"method": "GET", "route": route, "params": param_names}
    started = time.monotonic()
    deadline = started + config.connect_timeout + config.timeout
    response: requests.Response | None = None
    failure = ""
    try:
        response = session.get(
            config.url(path),
            params=list(_pairs(params)),
            headers=dict(headers or {}),
            timeout=config.timeouts,
            allow_redirects=False,
            stream=True,
        )
        body = _read_body(response, deadline=deadline, limit=config.max_response_bytes)
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    ):
        failure = "invalid_base_url"
    except (requests.Timeout, _DeadlineExceeded):
        failure = "timeout"
    except requests.exceptions.SSLError:
        failure = "tls_error"
    except requests.ConnectionError:
        failure = "connection_error"
    except _BodyTooLarge:
        failure = "response_too_large"
    except requests.RequestException:
        failure = "transport_error"
    finally:
        if response is not None:
            response.close()
    duration_ms = _elapsed_ms(started)

    if failure:
        status = response.status_code if response is not None else None
        call = CallInfo(
            http_status=status,
            duration_ms=duration_ms,
            redacted={**redacted, "status": status, "error": failure},
        )
        logger.warning(
            "%s GET %s failed after %d ms: %s",
            source,
            route,
            duration_ms,
            failure,
            extra={"source": source, "route": route, "duration_ms": duration_ms, "error": failure},
        )
        if failure == "invalid_base_url":
            raise ProviderNotConfigured(
                "unusable base URL", setting="base_url", source=source, call=call
            ) from None
        # ``from None``: requests' exception messages contain the URL and its query string.
        raise ProviderUnavailable(failure, call=call, source=source) from None

    assert response is not None
    payload, is_json = _parse_json(body)
    limit, remaining, reset = parse_ratelimit(response.headers)
    request_id = (response.headers.get("X-Request-ID") or "").strip()[:_MAX_REQUEST_ID]
    redacted["status"] = response.status_code
    if isinstance(payload, dict):
        redacted["keys"] = sorted(str(k) for k in payload)
    elif body and not is_json:
        redacted["body"] = "not_json"
    call = CallInfo(
        http_status=response.status_code,
        duration_ms=duration_ms,
        upstream_request_id=request_id,
        ratelimit_limit=limit,
        ratelimit_remaining=remaining,
        ratelimit_reset=reset,
        redacted=redacted,
    )
    logger.info(
        "%s GET %s -> %s in %d ms (request id %s)",
        source,
        route,
        response.status_code,
        duration_ms,
        request_id or "-",
        # Structured fields for VIGIE_LOG_FORMAT=json (admissions.ops.jsonlog).
        extra={
            "source": source,
            "route": route,
            "http_status": response.status_code,
            "duration_ms": duration_ms,
            "upstream_request_id": request_id,
        },
    )
    return Answer(
        status=response.status_code,
        headers=response.headers,
        payload=payload,
        is_json=is_json,
        call=call,
    )


def _pairs(
    params: Sequence[tuple[str, str]] | Mapping[str, str],
) -> Sequence[tuple[str, str]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def _read_body(response: requests.Response, *, deadline: float, limit: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        if time.monotonic() > deadline:
            raise _DeadlineExceeded
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes) -> tuple[Any, bool]:
    if not body.strip():
        return None, False
    try:
        return json.loads(body), True
    except ValueError:
        return None, False


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


# --- Statuses every source shares -------------------------------------------------------------

# When a 429 says nothing about when to come back: a minute (the API Particulier window).
DEFAULT_RETRY_AFTER = 60.0


def raise_for_status(
    answer: Answer,
    *,
    source: str,
    code: str = "",
    retry_in: float | None = None,
    retry_after: float | None = None,
) -> None:
    """Raise the exception every source's non-business status means; return on 2xx.

    * 429 -> :class:`ProviderRateLimited`, waiting ``retry_after`` if given, else
      ``Retry-After``, else until ``RateLimit-Reset``, else :data:`DEFAULT_RETRY_AFTER`;
    * 5xx -> :class:`ProviderUnavailable`, with ``retry_in`` if given, else ``Retry-After``;
    * 3xx -> :class:`ProviderRejected` (redirects are not followed: the base URL is wrong);
    * other 4xx -> :class:`ProviderRejected` with the source's ``code`` or ``http_<status>``;
    * anything else but 2xx -> :class:`ProviderUnavailable`.

    ``code`` is the source's error code, already extracted by the provider.
    """
    status = answer.status
    call = answer.call_with(provider_error_code=code)
    if 200 <= status < 300:
        return
    if status == 429:
        wait = retry_after
        if wait is None:
            wait = parse_retry_after(answer.headers.get("Retry-After"))
        if wait is None:
            wait = seconds_until(call.ratelimit_reset)
        if wait is None:
            wait = DEFAULT_RETRY_AFTER
        call.redacted["retry_after"] = wait
        raise ProviderRateLimited("rate limited", retry_after=wait, call=call, source=source)
    if status >= 500:
        if retry_in is None:
            retry_in = parse_retry_after(answer.headers.get("Retry-After"))
        if retry_in is not None:
            call.redacted["retry_in"] = retry_in
        raise ProviderUnavailable(
            f"server error {status}", retry_in=retry_in, call=call, source=source
        )
    if 300 <= status < 400:
        raise ProviderRejected(
            "unexpected redirect", code=UNEXPECTED_REDIRECT, call=call, source=source
        )
    if 400 <= status < 500:
        raise ProviderRejected(
            f"request refused ({status})", code=code or f"http_{status}", call=call, source=source
        )
    raise ProviderUnavailable(f"unexpected status {status}", call=call, source=source)


# --- Rate-limit headers -----------------------------------------------------------------------

# Above this, a reset value is an epoch timestamp rather than a number of seconds.
_EPOCH_SECONDS = 1_000_000_000
_EPOCH_MILLISECONDS = 1_000_000_000_000
_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")


def parse_ratelimit(
    headers: Mapping[str, str], *, now: float | None = None
) -> tuple[int | None, int | None, float | None]:
    """``(limit, remaining, reset as epoch seconds)`` from the rate-limit headers.

    API Particulier sends ``RateLimit-Limit``/``-Remaining``/``-Reset`` (the reset is "the end of
    the window, timestamp" [V]). Covoiturage uses express-rate-limit's defaults [I], whose reset
    is a number of seconds (IETF draft 6), or a combined ``RateLimit: limit=…, remaining=…,
    reset=…`` header (draft 7), or legacy ``X-RateLimit-*``. The units are not documented
    everywhere [?]: a reset below 10^9 is read as seconds from now, above as an epoch timestamp
    (milliseconds above 10^12). A limit such as ``100, 100;w=300`` reads as 100.
    """
    now = time.time() if now is None else now
    limit = _leading_int(headers.get("RateLimit-Limit") or headers.get("X-RateLimit-Limit"))
    remaining = _leading_int(
        headers.get("RateLimit-Remaining") or headers.get("X-RateLimit-Remaining")
    )
    raw_reset = headers.get("RateLimit-Reset") or headers.get("X-RateLimit-Reset")
    reset = _reset_epoch(raw_reset, now)
    combined = headers.get("RateLimit")
    if combined:
        items = dict(re.findall(r"\b(limit|remaining|reset|r|t)\s*=\s*(\d+)", combined))
        if limit is None and "limit" in items:
            limit = int(items["limit"])
        if remaining is None:
            value = items.get("remaining", items.get("r"))
            remaining = int(value) if value is not None else None
        if reset is None:
            value = items.get("reset", items.get("t"))
            reset = _reset_epoch(value, now)
    return limit, remaining, reset


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    now = time.time() if now is None else now
    text = value.strip()
    match = _LEADING_NUMBER.match(text)
    if match and match.end() == len(text.rstrip()):
        return max(0.0, float(match.group(1)))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


def seconds_until(epoch: float | None, *, now: float | None = None) -> float | None:
    if epoch is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, epoch - now)


def _leading_int(value: str | None) -> int | None:
    if value is None:
        return None
    match = _LEADING_NUMBER.match(value)
    return int(float(match.group(1))) if match else None


def _reset_epoch(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    match = _LEADING_NUMBER.match(value)
    if not match:
        retry = parse_retry_after(value, now=now)  # an HTTP date, seldom
        return None if retry is None else now + retry
    number = float(match.group(1))
    if number >= _EPOCH_MILLISECONDS:
        return number / 1000
    if number >= _EPOCH_SECONDS:
        return number
    return now + number
