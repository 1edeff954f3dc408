"""What the sandbox served: per API, endpoint, client and token, exactly.

For every counter the sandbox keeps the arrival times of the last minute, so it knows the
highest number of requests that arrived in any one-second window and in any one-minute
window (half-open windows ``(t - w, t]``: the busiest window can always be slid to end on an
arrival, so checking at each arrival is exact). Benchmarks and tests use these figures to
prove that Vigie never exceeded a limit. Every request counts, refused ones included.
"""

import threading
import time
from collections import Counter as _Counts
from collections import deque
from dataclasses import dataclass, field
from typing import Any


SECOND = 1.0
MINUTE = 60.0


@dataclass(slots=True)
class Counter:
    requests: int = 0
    statuses: _Counts[str] = field(default_factory=_Counts)
    rate_limited: int = 0
    no_answer: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    max_per_second: int = 0
    max_per_minute: int = 0
    _last_second: deque[float] = field(default_factory=deque)
    _last_minute: deque[float] = field(default_factory=deque)

    def arrive(self, now: float) -> None:
        # Written out rather than looped: this runs five or six times per request.
        self.requests += 1
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        second, minute = self._last_second, self._last_minute
        second.append(now)
        horizon = now - SECOND
        while second[0] <= horizon:
            second.popleft()
        if len(second) > self.max_per_second:
            self.max_per_second = len(second)
        minute.append(now)
        horizon = now - MINUTE
        while minute[0] <= horizon:
            minute.popleft()
        if len(minute) > self.max_per_minute:
            self.max_per_minute = len(minute)

    def finish(self, outcome: str, answered: bool) -> None:
        self.in_flight -= 1
        self.statuses[outcome] += 1
        if outcome == "429":
            self.rate_limited += 1
        if not answered:
            self.no_answer += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "rate_limited": self.rate_limited,
            "no_answer": self.no_answer,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_per_second": self.max_per_second,
            "max_per_minute": self.max_per_minute,
        }


@dataclass(frozen=True)
class Visit:
    """The counters one request updates, resolved once on arrival."""

    counters: tuple[Counter, ...]
    generation: int


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._clear()

    def _clear(self) -> None:
        self.since = time.time()
        self.total = Counter()
        self.apis: dict[str, Counter] = {}
        self.endpoints: dict[str, Counter] = {}
        self.clients: dict[str, Counter] = {}
        self.clients_by_api: dict[str, dict[str, Counter]] = {}
        self.tokens: dict[str, Counter] = {}

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._clear()

    def arrive(
        self, *, api: str, endpoint: str, client: str, token: str | None, now: float
    ) -> Visit:
        with self._lock:
            counters = [
                self.total,
                self.apis.setdefault(api, Counter()),
                self.endpoints.setdefault(endpoint, Counter()),
                self.clients.setdefault(client, Counter()),
                self.clients_by_api.setdefault(api, {}).setdefault(client, Counter()),
            ]
            if token:
                counters.append(self.tokens.setdefault(token, Counter()))
            for counter in counters:
                counter.arrive(now)
            return Visit(tuple(counters), self._generation)

    def finish(self, visit: Visit, outcome: str, *, answered: bool = True) -> None:
        with self._lock:
            if visit.generation != self._generation:
                return  # counted before a reset: the new counters never saw it arrive
            for counter in visit.counters:
                counter.finish(outcome, answered)

    def snapshot(self, bans: dict[str, float] | None = None) -> dict[str, Any]:
        def table(counters: dict[str, Counter]) -> dict[str, Any]:
            return {name: c.as_dict() for name, c in sorted(counters.items())}

        with self._lock:
            return {
                "since": self.since,
                "seconds": round(time.time() - self.since, 3),
                "total": self.total.as_dict(),
                "apis": table(self.apis),
                "endpoints": table(self.endpoints),
                "clients": table(self.clients),
                "clients_by_api": {
                    api: table(clients) for api, clients in sorted(self.clients_by_api.items())
                },
                "tokens": table(self.tokens),
                "bans": dict(sorted((bans or {}).items())),
            }
