"""Types, configuration and the backend-independent half of the shared limiter.

Vocabulary used throughout the package:

* a *rate* is "at most ``limit`` requests in any ``window`` seconds";
* a *bucket* is one log of grant timestamps with the rates that apply to it (source-wide, per
  token, per egress identity, or the per-endpoint window the server announces in its headers);
* the *server window* is what ``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset``
  say: a learned per-minute limit, and a budget of requests left until a reset time;
* a *cooldown* is a shared pause of a whole source (``Retry-After`` on a 429);
* the *breaker* is a per-source circuit breaker: ``closed`` → ``open`` after consecutive
  failures → ``half_open`` once its open period is over, where exactly one probe is let through
  across every process → ``closed`` on success, ``open`` again (for longer) on failure.

All times are epoch seconds on the *limiter's clock*: the Redis server's ``TIME`` with the Redis
backend (so that the clocks of the worker machines do not matter), the machine's clock with the
local backend. Tests pass ``now`` explicitly to drive a fake clock.
"""

from __future__ import annotations

import hashlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


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
_EPOCH_FLOOR = 1_000_000_000.0

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
class Decision:
    """The limiter's answer to ``acquire``.

    ``wait`` is how long before asking again could succeed (0.0 when granted); ``reason`` is ""
    when granted, else ``rate:<source>:<scope>``, ``cooldown:<source>``, ``breaker:<source>`` or
    ``unavailable:limiter``. ``at`` is the decision's time on the limiter's clock: pass it to
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
    failures: int  # consecutive failures
    opened_at: float | None
    retry_at: float | None  # when the breaker lets a probe through
    last_error: str
    cooldown_until: float | None = None
    cooldown_reason: str = ""
    server_remaining: int | None = None  # what the server's budget still allows, if known
    server_reset_at: float | None = None
    rates: tuple[RateUse, ...] = ()


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
        )

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


def token_fingerprint(token_key: str) -> str:
    """What identifies a token in keys and on the dashboard: never the token itself."""
    if not token_key:
        return "-"
    return hashlib.sha256(token_key.encode()).hexdigest()[:16]


def clean_error_code(error: str) -> str:
    """``error`` if it looks like a code ("timeout", "http_502", "30999"), else "unspecified".

    The last line of defence against a message, with personal data in it, ending up in the
    shared state and on the dashboard: a code has no spaces and is short.
    """
    return error if _ERROR_CODE_RE.match(error) else "unspecified"


def normalise_reset(reset_at: float | None, now: float) -> float | None:
    """An epoch ``RateLimit-Reset``, accepting the delta-seconds form, clamped to a day."""
    if reset_at is None or math.isnan(reset_at):
        return None
    if reset_at < _EPOCH_FLOOR:
        reset_at = now + max(reset_at, 0.0)
    return min(reset_at, now + MAX_SERVER_WAIT)


@dataclass(frozen=True)
class Bucket:
    """One grant log and the rates that apply to it."""

    key: str  # backend key suffix, e.g. "api_particulier:token:1a2b3c4d5e6f7a8b"
    label: str  # reason suffix: "source", "token", "ip"
    rates: tuple[Rate, ...]
    keep: float = field(default=0.0)  # how long its entries are needed (longest window + margin)


class LimiterUnavailable(Exception):
    """The shared state (Redis) could not be reached for an admin or dashboard read."""


class Limiter(ABC):
    """Non-blocking admission control shared by every process that uses the same backend.

    Call ``acquire`` right before each upstream request and send it at once if granted (the
    guarantee is about grant times, and the safety margin absorbs only milliseconds of delay);
    otherwise put the work back with ``not_before = now + decision.wait``. After the answer,
    call ``observe`` with its ``RateLimit-*`` headers, then ``record_success`` or
    ``record_failure`` (5xx, timeouts: the source is unwell) or ``pause`` (429 + Retry-After).
    A definite business answer, a 404 or a 4xx about our request is a success for the breaker.
    """

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config

    # --- Public API -----------------------------------------------------------------------

    @abstractmethod
    def acquire(self, source: str, *, token_key: str = "", now: float | None = None) -> Decision:
        """Take one slot in every bucket that applies, or none; refuse during a cooldown or
        while the breaker is open (half-open: one probe at a time across every process)."""

    @abstractmethod
    def observe(
        self,
        source: str,
        *,
        token_key: str = "",
        limit: int | None,
        remaining: int | None,
        reset_at: float | None,
        sent_at: float | None = None,
        now: float | None = None,
    ) -> None:
        """Learn from the ``RateLimit-*`` headers of an answer.

        ``limit`` becomes a per-minute rate on this source and token. ``remaining``/``reset_at``
        become a budget until ``reset_at``: ``remaining`` minus every other grant since
        ``sent_at`` (``Decision.at`` of the request that got this answer), since those may not
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
    def record_success(self, source: str, *, now: float | None = None) -> None:
        """The source answered: reset the consecutive failures; a half-open breaker closes."""

    @abstractmethod
    def record_failure(self, source: str, *, error: str, now: float | None = None) -> None:
        """The source failed (5xx, timeout); ``error`` is a short code, never personal data."""

    @abstractmethod
    def breaker(self, source: str, *, now: float | None = None) -> BreakerState:
        """The breaker, cooldown and rate use of ``source``, for the dashboard."""

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

    # --- Shared helpers -------------------------------------------------------------------

    def buckets(self, source: str, token_key: str = "") -> list[Bucket]:
        """The configured buckets that apply to one request, in checking order."""
        check_source(source)
        scopes = self.config.rates.get(source, {})
        margin = self.config.margin
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
                key = f"{source}:token:{token_fingerprint(token_key)}"
            else:
                key = f"{source}:ip:{self.config.egress_id}"
            found.append(Bucket(key, scope, rates, keep=max(r.window for r in rates)))
        return found

    def server_scope(self, source: str, token_key: str = "") -> str:
        """What the server's ``RateLimit-*`` headers count: the token, or our egress address."""
        if token_key:
            return f"{source}:server:{token_fingerprint(token_key)}"
        return f"{source}:server:ip-{self.config.egress_id}"

    @property
    def server_keep(self) -> float:
        """How long the grant log behind the server window is kept."""
        return max(SERVER_WINDOW, DEFAULT_FLIGHT) + self.config.margin

    def sources(self) -> list[str]:
        return sorted(self.config.rates)

    def configured_rate(self, source: str, scope: str) -> tuple[Rate, ...]:
        return self.config.rates.get(source, {}).get(scope, ())
