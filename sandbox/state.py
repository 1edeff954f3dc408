"""The sandbox's shared state (knobs, counters, windows, indexes) and the per-request context
that API handlers receive."""

import random
import threading
import time
from dataclasses import dataclass, field

from sandbox.httpkit import NoAnswer, Request
from sandbox.knobs import Faults, Knobs, KnobStore
from sandbox.limits import Bans, InFlight, RateWindows, Rule, WindowState
from sandbox.parking import ParkingLot
from sandbox.people import PopulationIndex
from sandbox.receivers import Receivers
from sandbox.stats import Stats


@dataclass
class State:
    knobs: KnobStore = field(default_factory=KnobStore)
    stats: Stats = field(default_factory=Stats)
    windows: RateWindows = field(default_factory=RateWindows)
    bans: Bans = field(default_factory=Bans)
    in_flight: InFlight = field(default_factory=InFlight)
    people: PopulationIndex = field(default_factory=PopulationIndex)
    parking: ParkingLot = field(default_factory=ParkingLot)
    # Webhook receivers (Vigie's webhooks deliver to them in tests and demos).
    receivers: Receivers = field(default_factory=Receivers)
    # Set when the server stops, so that every sleeping request wakes up at once.
    stopping: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.rng.seed(self.knobs.current.seed)

    def reset(self) -> None:
        """Start-up knobs, zero stats, empty windows, no bans."""
        self.knobs.reset()
        self.stats.reset()
        self.windows.reset()
        self.bans.reset()
        self.receivers.reset()
        self.reseed()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)


@dataclass
class Context:
    """One API request on its way through the sandbox."""

    request: Request
    api: str
    endpoint: str  # short name within the API, e.g. "scolarites_v4"
    knobs: Knobs
    faults: Faults
    state: State
    now: float = field(default_factory=time.time)

    def limit(self, rules: list[Rule]) -> tuple[WindowState | None, list[WindowState]]:
        return self.state.windows.hit(rules, time.time(), self.knobs.limit_algorithm)

    def simulate_upstream(self) -> str | None:
        """Play the provider's part: maybe reset the connection, maybe never answer, wait the
        configured latency, then maybe fail. Returns the ``error_rates`` key drawn, if any, or
        "outage" when the provider is switched off."""
        faults, rng = self.faults, self.state.rng
        if faults.outage:
            return "outage"
        if faults.reset_rate and rng.random() < faults.reset_rate:
            raise NoAnswer("reset")
        if faults.timeout_rate and rng.random() < faults.timeout_rate:
            # Longer than the client's timeout: it gives up, then the connection is closed.
            raise NoAnswer("timeout", hard_reset=False, hold=faults.timeout_seconds)
        delay = faults.latency_ms
        if faults.latency_jitter_ms:
            delay += rng.random() * faults.latency_jitter_ms
        self.state.sleep(delay / 1000)
        if faults.error_rates:
            draw, total = rng.random(), 0.0
            for key, rate in faults.error_rates.items():
                total += rate
                if draw < total:
                    return key
        return None
