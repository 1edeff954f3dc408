"""Rate limits, the ban, and the register of requests in flight.

Two ways of counting, chosen by the ``limit_algorithm`` knob:

* ``fixed`` (default): windows aligned on the clock (a 60 s window runs from one whole minute
  to the next), a counter per window. ``RateLimit-Reset`` is the end of the window. This is how
  Rack-style limiters work and the most likely behaviour of API Particulier [guessed: not
  documented].
* ``sliding``: a log of the admitted requests of the last window. Stricter: with it, "no 429"
  means "never more than the limit in any window", which is what the stats measure.

Only admitted requests use up a window: a refused request does not push the client further
back. Every structure here is shared by all server threads and guarded by a lock.
"""

import math
import threading
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One limit on one key: at most ``limit`` requests per ``window`` seconds."""

    key: Hashable
    limit: int
    window: float


@dataclass(frozen=True)
class WindowState:
    """One rule's window as a request finds it (or leaves it): what the ``RateLimit-*`` headers
    say. Named apart from the production limiter's admissions (verifications/providers/limits/),
    which this fakes the other side of."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix time at which the window ends (fixed) or a slot frees (sliding)
    retry_after: int  # whole seconds to wait; meaningful when refused

    @classmethod
    def unlimited(cls, now: float) -> "WindowState":
        return cls(True, 0, 0, now, 0)


def _retry_after(reset_at: float, now: float) -> int:
    return max(1, math.ceil(reset_at - now))


class RateWindows:
    """The rate windows of any number of keys: a counter per window (fixed) or a log of the
    admitted requests (sliding)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: dict[tuple[Hashable, float], tuple[int, int]] = {}  # -> (window index, n)
        self._logs: dict[tuple[Hashable, float], deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._fixed.clear()
            self._logs.clear()

    def _fixed_state(self, rule: Rule, now: float) -> WindowState:
        index = math.floor(now / rule.window)
        stored_index, count = self._fixed.get((rule.key, rule.window), (index, 0))
        if stored_index != index:
            count = 0
        reset_at = (index + 1) * rule.window
        return WindowState(
            count < rule.limit,
            rule.limit,
            max(0, rule.limit - count),
            reset_at,
            _retry_after(reset_at, now),
        )

    def _sliding_state(self, rule: Rule, now: float) -> WindowState:
        log = self._logs.get((rule.key, rule.window))
        if log:
            horizon = now - rule.window
            while log and log[0] <= horizon:
                log.popleft()
        count = len(log) if log else 0
        reset_at = (log[0] + rule.window) if log else now + rule.window
        return WindowState(
            count < rule.limit,
            rule.limit,
            max(0, rule.limit - count),
            reset_at,
            _retry_after(reset_at, now),
        )

    def _consume(self, rule: Rule, now: float, algorithm: str) -> WindowState:
        if algorithm == "sliding":
            log = self._logs.setdefault((rule.key, rule.window), deque())
            log.append(now)
            state = self._sliding_state(rule, now)
        else:
            index = math.floor(now / rule.window)
            stored_index, count = self._fixed.get((rule.key, rule.window), (index, 0))
            count = count + 1 if stored_index == index else 1
            self._fixed[(rule.key, rule.window)] = (index, count)
            state = self._fixed_state(rule, now)
        return state

    def hit(
        self, rules: Sequence[Rule], now: float, algorithm: str = "fixed"
    ) -> tuple[WindowState | None, list[WindowState]]:
        """Admit a request against every rule at once, or against none.

        Returns (the refusing rule's window or None, each rule's window after this request, in
        order). Rules with a limit of 0 are ignored (no limit)."""
        active = [r for r in rules if r.limit > 0]
        if not active:
            return None, [WindowState.unlimited(now) for _ in rules]
        state_of = self._sliding_state if algorithm == "sliding" else self._fixed_state
        with self._lock:
            states = [state_of(r, now) for r in active]
            refused = [s for s in states if not s.allowed]
            if refused:
                worst = max(refused, key=lambda s: s.reset_at)
                after = states
            else:
                worst = None
                after = [self._consume(r, now, algorithm) for r in active]
        by_rule = dict(zip((id(r) for r in active), after, strict=True))
        return worst, [by_rule.get(id(r), WindowState.unlimited(now)) for r in rules]


@dataclass
class _Penalty:
    retry_until: float = 0.0
    violations: int = 0
    banned_until: float = 0.0


class Bans:
    """API Particulier's ban: a client that keeps calling while told to wait gets no answer.

    After a 429, every request the same client sends before its ``Retry-After`` has elapsed is
    a violation; at ``threshold`` violations the client is banned for ``ban_seconds``. A request
    sent after the wait clears the count. Keyed by client IP, as the real ban is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, _Penalty] = {}

    def reset(self) -> None:
        with self._lock:
            self._clients.clear()

    def note_refusal(self, client: str, retry_until: float) -> None:
        with self._lock:
            penalty = self._clients.setdefault(client, _Penalty())
            penalty.retry_until = max(penalty.retry_until, retry_until)

    def check(self, client: str, now: float, *, threshold: int, ban_seconds: float) -> bool:
        """Record this request; True when the client is (now) banned."""
        with self._lock:
            penalty = self._clients.get(client)
            if penalty is None:
                return False
            if penalty.banned_until > now:
                return True
            if now < penalty.retry_until:
                penalty.violations += 1
                if threshold and penalty.violations >= threshold:
                    penalty.banned_until = now + ban_seconds
                    penalty.violations = 0
                    return True
            else:
                penalty.violations = 0
            return False

    def active(self, now: float) -> dict[str, float]:
        """Banned clients and the Unix time their ban ends."""
        with self._lock:
            return {c: p.banned_until for c, p in self._clients.items() if p.banned_until > now}


class InFlight:
    """Requests being answered, by identity (API Particulier's 409 ``00015``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[Hashable] = set()

    def acquire(self, key: Hashable) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def release(self, key: Hashable) -> None:
        with self._lock:
            self._keys.discard(key)
