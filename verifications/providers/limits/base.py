"""Types, configuration and the backend-independent half of the shared limiter.

Vocabulary used throughout the package:

* a *rate* is "at most ``limit`` requests in any ``window`` seconds";
* a *bucket* is one log of grant timestamps with the rates that apply to it (source-wide, per
  token, per egress identity, or the per-endpoint window the server announces in its headers);
* the *server window* is what ``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset``
  say: a learned per-minute limit, and a budget of requests left until a reset time;
* a *cooldown* is a shared pause of a whole source (``Retry-After`` on a 429);
* the *breaker* is a per-source circuit breaker that measures the *source*, not the requests
  (see "The breaker" below): ``closed`` → ``open`` when many different requests fail →
  ``half_open`` once its open period is over, where exactly one probe is let through across
  every process → ``closed`` on success, ``open`` again (for longer) on failure;
* a *subject* is what an outcome is about: a stable key of one request (the pipeline passes
  ``request:<id>``), stored only as a fingerprint, never personal data.

The breaker
-----------
Every outcome reported to the breaker names its subject. Over a sliding window of
``failure_window`` seconds each subject counts once, with its latest outcome: *failed* (5xx,
timeout) or *answered*. The breaker opens when at least ``failure_threshold`` distinct subjects
failed in the window **and** they are at least ``failure_share`` of the subjects with an
outcome in it. So the same few requests failing again and again (a person the provider chokes
on, every time) never open it while the source answers others: those requests end by their own
bounded retries (``verifications.retry``). A source that fails for everyone opens it as soon as
``failure_threshold`` different requests have failed.

Once open, nothing is granted for ``open_duration(opens)`` seconds (doubling at each reopening,
up to ``max_open_seconds``); then it is half-open and one probe is granted across every process
(another after ``probe_seconds`` if the first never reports). The probe decides:

* answered (``record_success``, any subject) → ``closed``, and the failures of the window are
  forgotten (a fresh start, as a closed breaker with no failure);
* failed, by a subject that was not already failing in the window → ``open`` again, for twice
  as long: that is new evidence that the source is down;
* failed, by a subject that *was* already failing in the window: its failure adds nothing to
  what was known. The breaker opens again only if the window still shows the source failing
  (the condition above); otherwise, other subjects having been answered, it stays half-open and
  frees the probe at once, so that another request probes.

An answer to a request sent before the breaker opened is recorded in the window but does not
close the breaker before its open period is over. Without a subject, each outcome is its own
subject (as if every call were a different request).

A request the pipeline gives up because it failed alone (its own retries spent while the source
answered others) is *set aside* (``set_aside``) for ``set_aside_seconds``: its subject's later
failures (a re-run, a scheduled re-check of the same claim) are no evidence about the source
and never open the breaker, even when nothing else is being asked at the time; an answer ends
it.

All times are epoch seconds on the *limiter's clock*: the Redis server's ``TIME`` with the Redis
backend (so that the clocks of the worker machines do not matter), the machine's clock with the
local backend. Tests pass ``now`` explicitly to drive a fake clock.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


logger = logging.getLogger(__name__)

# Bucket scopes a source may configure, in the order they are checked and reported.
SCOPES = ("source", "token", "ip")

# API Particulier's RateLimit-Limit is "requests per minute" for the endpoint: the learned limit
# is enforced over this window.
SERVER_WINDOW = 60.0

# RateLimit-Reset is on the API server's clock, Redis TIME on ours: resume this much later. The
# server's budget only binds when our own limits did not already stop us, so this costs little,
# while resuming early would earn a 429.
SERVER_CLOCK_MARGIN = 0.5

# When ``observe`` is not told when the request was sent, assume it may have left this long ago
# (the longest provider timeout): every grant since then is counted against the server's
# budget, which is conservative.
DEFAULT_FLIGHT = 10.0

# A RateLimit-Reset or a Retry-After further away than this is treated as this: a bogus header
# must not stop a source for days. (API Particulier's windows are one minute long.)
MAX_SERVER_WAIT = 24 * 3600.0

# RateLimit-Reset values below this are read as "seconds from now" rather than as an epoch
# timestamp: express-rate-limit (covoiturage) sends the delta form.
EPOCH_FLOOR = 1_000_000_000.0

_SOURCE_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_ERROR_CODE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` requests in any window of ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or not self.window > 0:
            raise ValueError(f"invalid rate {self.limit}/{self.window}s")


@dataclass(frozen=True)
class Admission:
    """The limiter's answer to ``acquire``.

    ``wait`` is how long before asking again could succeed (0.0 when granted); ``reason`` is ""
    when granted, else ``rate:<source>:<scope>``, ``cooldown:<source>``, ``breaker:<source>`` or
    ``unavailable:limiter``. ``at`` is the admission's time on the limiter's clock: pass it to
    ``observe(sent_at=...)`` with the headers of the answer to that request.
    """

    granted: bool
    wait: float = 0.0
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class RateUse:
    """How much of one rate is in use right now (for the dashboard)."""

    scope: str  # "source", "token:<hash>", "ip:<egress id>", "server:<scope>"
    limit: int
    window: float  # the limit's own window, without the safety margin
    used: int


@dataclass(frozen=True)
class BreakerState:
    """A source's breaker, cooldown and current rate use, as the UI shows them."""

    source: str
    state: str  # "closed", "open" or "half_open"
    failures: int  # distinct subjects whose latest outcome in the window is a failure
    opened_at: float | None
    retry_at: float | None  # when the breaker lets a probe through
    last_error: str
    cooldown_until: float | None = None
    cooldown_reason: str = ""
    server_remaining: int | None = None  # what the server's budget still allows, if known
    server_reset_at: float | None = None
    rates: tuple[RateUse, ...] = ()
    subjects: int = 0  # distinct subjects with an outcome in the window (failed or answered)
    failing_alone: int = 0  # subjects set aside as failing alone (not counted as failures)
    last_opened_at: float | None = None  # the last time it opened (kept once closed again)

    @property
    def answered(self) -> int:
        """Distinct subjects the source answered in the window (their latest outcome)."""
        return max(self.subjects - self.failures, 0)

    @property
    def down(self) -> bool:
        """Whether the source is taken as down: the breaker is open or half-open."""
        return self.state != "closed"

    @property
    def degraded(self) -> bool:
        """Down, or paused by a shared cooldown (a 429's Retry-After)."""
        return self.down or self.cooldown_until is not None


@dataclass(frozen=True)
class LimitsConfig:
    """Everything the limiter needs from the settings, validated once."""

    rates: Mapping[str, Mapping[str, tuple[Rate, ...]]]
    egress_id: str
    margin: float = 0.03
    failure_threshold: int = 5
    open_seconds: float = 30.0
    max_open_seconds: float = 600.0
    probe_seconds: float = 30.0
    failure_window: float = 60.0
    failure_share: float = 0.5
    set_aside_seconds: float = 86400.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"breaker threshold must be 1 or more: {self.failure_threshold}")
        if not self.failure_window > 0:
            raise ValueError(f"breaker window must be positive: {self.failure_window}")
        if not 0 < self.failure_share <= 1:
            raise ValueError(f"breaker failure share must be in (0, 1]: {self.failure_share}")
        if self.set_aside_seconds < 0:
            raise ValueError(f"breaker set-aside time must be 0 or more: {self.set_aside_seconds}")

    @classmethod
    def from_settings(cls, settings: Any) -> LimitsConfig:
        return cls(
            rates=parse_rate_table(settings.VERIFICATION_RATE_LIMITS),
            egress_id=str(settings.VIGIE_EGRESS_ID),
            margin=float(settings.VERIFICATION_RATE_LIMIT_MARGIN),
            failure_threshold=int(settings.VERIFICATION_BREAKER_FAILURE_THRESHOLD),
            open_seconds=float(settings.VERIFICATION_BREAKER_OPEN_SECONDS),
            max_open_seconds=float(settings.VERIFICATION_BREAKER_MAX_OPEN_SECONDS),
            probe_seconds=float(settings.VERIFICATION_BREAKER_PROBE_SECONDS),
            failure_window=float(settings.VERIFICATION_BREAKER_WINDOW_SECONDS),
            failure_share=float(settings.VERIFICATION_BREAKER_FAILURE_SHARE),
            set_aside_seconds=float(settings.VERIFICATION_BREAKER_SET_ASIDE_SECONDS),
        )

    def tripped(self, failed: int, subjects: int) -> bool:
        """Whether ``failed`` distinct failing subjects out of ``subjects`` open the breaker."""
        return failed >= self.failure_threshold and failed >= self.failure_share * subjects

    def open_duration(self, opens: int) -> float:
        """Open period after the ``opens``-th consecutive opening: doubles, up to a cap."""
        return float(min(self.open_seconds * 2 ** max(opens - 1, 0), self.max_open_seconds))


def parse_rate_table(
    raw: Mapping[str, Mapping[str, Sequence[Any]]],
) -> dict[str, dict[str, tuple[Rate, ...]]]:
    """``{"source": {"scope": [(limit, window), ...]}}`` → validated ``Rate`` tuples."""
    table: dict[str, dict[str, tuple[Rate, ...]]] = {}
    for source, scopes in raw.items():
        check_source(source)
        table[source] = {}
        for scope, rates in scopes.items():
            if scope not in SCOPES:
                raise ValueError(f"unknown rate limit scope {scope!r} for {source}")
            table[source][scope] = tuple(
                r if isinstance(r, Rate) else Rate(int(r[0]), float(r[1])) for r in rates
            )
    return table


def check_source(source: str) -> str:
    if not _SOURCE_RE.match(source):
        raise ValueError(f"invalid source name {source!r}")
    return source


def token_fingerprint(token: str) -> str:
    """What identifies a token in keys and on the dashboard: never the token itself.

    The one hash of a credential: callers pass the token as it is sent (``token=``), and the
    limiter keeps only this fingerprint, so that two credentials never share a bucket and none
    reaches the shared state, the logs or the dashboard."""
    if not token:
        return "-"
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def subject_fingerprint(subject: str) -> str:
    """What identifies a subject in the shared state: a fingerprint, never the key itself.

    Without a subject, a random one: the outcome counts as a request of its own.
    """
    if not subject:
        return "anon:" + uuid.uuid4().hex[:16]
    return hashlib.sha256(f"subject|{subject}".encode()).hexdigest()[:20]


def clean_error_code(error: str) -> str:
    """``error`` if it looks like a code ("timeout", "http_502", "30999"), else "unspecified".

    The last line of defence against a message, with personal data in it, ending up in the
    shared state and on the dashboard: a code has no spaces and is short.
    """
    return error if _ERROR_CODE_RE.match(error) else "unspecified"


def log_transition(
    source: str,
    transition: str,
    failed: int,
    subjects: int,
    error: str,
    retry_in: float,
    config: LimitsConfig,
) -> None:
    """Log what a failure did to the breaker (both backends say it the same way)."""
    if transition in ("opened", "reopened"):
        logger.warning(
            "Circuit breaker for %s %s: %d of the %d requests with an outcome in the last "
            "%.0f s failed (last error: %s); next probe in %.1f s",
            source,
            transition,
            failed,
            subjects,
            config.failure_window,
            error,
            retry_in,
        )
    elif transition == "probe_failed_alone":
        logger.info(
            "Circuit breaker for %s stays half-open: the probe failed for a request that was "
            "already failing (%s) while the source answers others; another request probes",
            source,
            error,
        )


def normalise_reset(reset_at: float | None, now: float) -> float | None:
    """An epoch ``RateLimit-Reset``, accepting the delta-seconds form, clamped to a day."""
    if reset_at is None or math.isnan(reset_at):
        return None
    if reset_at < EPOCH_FLOOR:
        reset_at = now + max(reset_at, 0.0)
    return min(reset_at, now + MAX_SERVER_WAIT)


@dataclass(frozen=True)
class Bucket:
    """One grant log and the rates that apply to it."""

    key: str  # backend key suffix, e.g. "api_particulier:token:1a2b3c4d5e6f7a8b"
    label: str  # reason suffix: "source", "token", "ip"
    rates: tuple[Rate, ...]
    keep: float = field(default=0.0)  # how long its entries are needed (longest window + margin)


# The adaptive part of the margin (docs/LIMITS.md, "The margin"): the longest recent delay
# between a grant and its request leaving the worker, measured by the workers
# (``note_send_delay``) and shared through the backend. It decays by half every
# ``SEND_DELAY_HALF_LIFE`` seconds, so a busy moment widens the windows for about a minute, and is
# capped (a worker stopped for longer than the cap is not a rate question).
SEND_DELAY_HALF_LIFE = 30.0
SEND_DELAY_CAP = 1.0
# How long a process reuses the shared delay it read (one read per source at most this often).
SEND_DELAY_READ_EVERY = 0.25


def decayed_delay(value: float, at: float, now: float) -> float:
    """A recorded delay ``value`` (at ``at``) as it counts at ``now``."""
    return float(value * 0.5 ** (max(now - at, 0.0) / SEND_DELAY_HALF_LIFE))


class LimiterUnavailable(Exception):
    """The shared state (Redis) could not be reached for an admin or dashboard read."""


class Limiter(ABC):
    """Non-blocking admission control shared by every process that uses the same backend.

    Call ``acquire`` right before each upstream request and send it at once if granted (the
    guarantee is about grant times, and the safety margin absorbs only milliseconds of delay);
    otherwise put the work back with ``not_before = now + admission.wait``. After the answer,
    call ``observe`` with its ``RateLimit-*`` headers, then ``record_success`` or
    ``record_failure`` (5xx, timeouts: the source is unwell), each with the request's
    ``subject``, or ``pause`` (429 + Retry-After). A definite business answer, a 404 or a 4xx
    about our request is a success for the breaker.
    """

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self._delays: dict[str, tuple[float, float]] = {}  # source → (delay, read at, monotonic)

    # --- Public API -----------------------------------------------------------------------

    @abstractmethod
    def acquire(self, source: str, *, token: str = "", now: float | None = None) -> Admission:
        """Take one slot in every bucket that applies, or none; refuse during a cooldown or
        while the breaker is open (half-open: one probe at a time across every process).
        ``token`` is the credential the request is sent with ("" without one); only its
        ``token_fingerprint`` is kept."""

    @abstractmethod
    def observe(
        self,
        source: str,
        *,
        token: str = "",
        limit: int | None,
        remaining: int | None,
        reset_at: float | None,
        sent_at: float | None = None,
        now: float | None = None,
    ) -> None:
        """Learn from the ``RateLimit-*`` headers of an answer.

        ``limit`` becomes a per-minute rate on this source and token. ``remaining``/``reset_at``
        become a budget until ``reset_at``: ``remaining`` minus every other grant since
        ``sent_at`` (``Admission.at`` of the request that got this answer), since those may not
        have been counted by the server yet (without ``sent_at``: every grant of the last ten
        seconds, conservatively). Once the budget is spent, nothing more is granted until
        ``reset_at``, so Vigie never sends a request the server has said it will refuse.
        """

    @abstractmethod
    def pause(
        self, source: str, seconds: float, *, reason: str = "429", now: float | None = None
    ) -> None:
        """Shared cooldown: nothing is granted for ``source`` for ``seconds`` (never shortened)."""

    @abstractmethod
    def record_success(self, source: str, *, subject: str = "", now: float | None = None) -> None:
        """The source answered the request ``subject``: its latest outcome in the window is an
        answer; a half-open breaker closes (and forgets the window's failures)."""

    @abstractmethod
    def record_failure(
        self, source: str, *, error: str, subject: str = "", now: float | None = None
    ) -> None:
        """The source failed the request ``subject`` (5xx, timeout); the breaker opens if the
        window says the source fails (see the module docstring). ``error`` is a short code,
        never personal data; ``subject`` is stored as a fingerprint only."""

    @abstractmethod
    def set_aside(self, source: str, *, subject: str, now: float | None = None) -> None:
        """``subject`` failed alone (given up while the source answered others): for
        ``set_aside_seconds`` its failures are no evidence about the source (module docstring).
        """

    @abstractmethod
    def breaker(
        self, source: str, *, now: float | None = None, with_rates: bool = True
    ) -> BreakerState:
        """The breaker, cooldown and rate use of ``source``, for the dashboard. Without
        ``with_rates``, no rate use nor server budget: a cheaper read (no scan of the logs)."""

    @abstractmethod
    def breakers(self, *, now: float | None = None) -> dict[str, BreakerState]:
        """``breaker()`` for every configured source and every source with a breaker state."""

    @abstractmethod
    def reset(self, source: str | None = None) -> None:
        """Admin action: close the breaker and clear the cooldown of one source, or of all."""

    @abstractmethod
    def hold(self, key: str, seconds: float) -> bool:
        """Take an exclusive hold on ``key`` for at most ``seconds``; False if someone holds it.

        The pipeline holds the fingerprint of a request's parameters while it is in flight, so
        that identical requests (the same person asked twice, by two claims) are never in
        flight together: API Particulier answers the second with 409 00015.
        """

    @abstractmethod
    def release(self, key: str) -> None:
        """End a hold (it also ends by itself after its ``seconds``)."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections (tests, shutdown)."""

    def note_send_delay(  # noqa: B027 - optional for backends
        self, source: str, seconds: float, *, now: float | None = None
    ) -> None:
        """A worker measured ``seconds`` between asking for a slot of ``source`` and its
        request leaving: the shared delay becomes the larger of it and the decayed one.
        Backends without shared state ignore it (the margin stays the configured one)."""

    def send_delay(self, source: str, *, now: float | None = None) -> float:
        """The shared grant-to-send delay of ``source`` now (decayed, capped), 0 if none;
        read from the backend at most every ``SEND_DELAY_READ_EVERY`` seconds per process
        (always when ``now`` is given)."""
        if now is None:
            cached = self._delays.get(source)
            if cached is not None and time.monotonic() - cached[1] < SEND_DELAY_READ_EVERY:
                return cached[0]
        delay = min(max(self._read_send_delay(source, now=now), 0.0), SEND_DELAY_CAP)
        if now is None:
            self._delays[source] = (delay, time.monotonic())
        return delay

    def _read_send_delay(self, source: str, *, now: float | None) -> float:
        return 0.0

    def margin(self, source: str, *, now: float | None = None) -> float:
        """What every window of ``source`` is widened by: the configured margin (network
        jitter, the server's own delay) plus the measured grant-to-send delay."""
        return self.config.margin + self.send_delay(source, now=now)

    # --- Shared helpers -------------------------------------------------------------------

    def buckets(self, source: str, token: str = "", *, now: float | None = None) -> list[Bucket]:
        """The configured buckets that apply to one request, in checking order, their windows
        widened by the source's ``margin``."""
        check_source(source)
        scopes = self.config.rates.get(source, {})
        margin = self.margin(source, now=now)
        found = []
        for scope in SCOPES:
            rates = tuple(
                Rate(r.limit, r.window + margin) for r in scopes.get(scope, ()) if r.limit > 0
            )
            if not rates:
                continue
            if scope == "source":
                key = f"{source}:source"
            elif scope == "token":
                key = f"{source}:token:{token_fingerprint(token)}"
            else:
                key = f"{source}:ip:{self.config.egress_id}"
            found.append(Bucket(key, scope, rates, keep=max(r.window for r in rates)))
        return found

    def server_scope(self, source: str, token: str = "") -> str:
        """What the server's ``RateLimit-*`` headers count: the token, or our egress address."""
        if token:
            return f"{source}:server:{token_fingerprint(token)}"
        return f"{source}:server:ip-{self.config.egress_id}"

    @property
    def server_keep(self) -> float:
        """How long the grant log behind the server window is kept."""
        return max(SERVER_WINDOW, DEFAULT_FLIGHT) + self.config.margin

    def sources(self) -> list[str]:
        return sorted(self.config.rates)

    def configured_rate(self, source: str, scope: str) -> tuple[Rate, ...]:
        return self.config.rates.get(source, {}).get(scope, ())
