"""The sandbox's knobs: faults to inject and limits to enforce.

Knobs are set at start-up (``--config`` YAML or JSON file) and changed at run time through
``POST /_sandbox/knobs``; ``POST /_sandbox/reset`` goes back to the start-up values. A
``Knobs`` object is immutable: an update builds a new one and swaps it in, so a request reads
one consistent set of knobs from start to end without taking a lock.

The fault knobs (``FAULT_KNOBS``) apply to every API; ``apis`` overrides them per API, e.g.
``{"apis": {"particulier": {"latency_ms": 300}}}``. A limit of 0 means "no limit".
"""

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from sandbox import tokens


APIS = ("particulier", "cvec", "certifinfo", "covoiturage", "tsa")


class KnobError(ValueError):
    """An invalid knob name or value; the message lists every problem."""


def _number(minimum: float = 0.0, maximum: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"must be between {minimum} and {maximum or 'infinity'}")
        return float(value)

    return check


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a non-negative integer")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return str(value)

    return check


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return tuple(value)


def _int_map(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError("must be an object")
    return {str(k): _integer(v) for k, v in value.items()}


def _rates(value: Any) -> dict[str, float]:
    """Error rates by status: {"502": 0.1, "504/00501": 0.05}; their sum is at most 1."""
    if not isinstance(value, Mapping):
        raise ValueError('must be an object such as {"502": 0.1}')
    rates = {}
    for key, rate in value.items():
        status = str(key).partition("/")[0]
        if not (status.isdigit() and len(status) == 3 and 400 <= int(status) <= 599):
            raise ValueError(f"{key!r} is not an HTTP error status (optionally /code)")
        rates[str(key)] = _number(0.0, 1.0)(rate)
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("rates add up to more than 1")
    return rates


FAULT_KNOBS: dict[str, Callable[[Any], Any]] = {
    "latency_ms": _number(),
    "latency_jitter_ms": _number(),
    "error_rates": _rates,
    "reset_rate": _number(0.0, 1.0),
    "timeout_rate": _number(0.0, 1.0),
    "timeout_seconds": _number(),
    "outage": _boolean,
    "outage_mode": _choice("error", "reset", "timeout"),
}


def _api_overrides(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise ValueError("must be an object keyed by API name")
    out = {}
    for api, overrides in value.items():
        if api not in APIS:
            raise ValueError(f"unknown API {api!r} (one of {', '.join(APIS)})")
        if not isinstance(overrides, Mapping):
            raise ValueError(f"{api}: must be an object of fault knobs")
        checked = {}
        for name, raw in overrides.items():
            if name not in FAULT_KNOBS:
                raise ValueError(f"{api}.{name}: not a fault knob ({', '.join(FAULT_KNOBS)})")
            checked[name] = FAULT_KNOBS[name](raw)
        out[api] = checked
    return out


def _seed(value: Any) -> int | None:
    return None if value is None else _integer(value)


@dataclass(frozen=True)
class Faults:
    """The fault knobs in force for one API."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rates: Mapping[str, float] | None = None
    reset_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    outage: bool = False
    outage_mode: str = "error"


@dataclass(frozen=True)
class Knobs:
    # Faults, for every API (see ``apis`` for per-API overrides).
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rates: Mapping[str, float] | None = None
    reset_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    outage: bool = False
    outage_mode: str = "error"
    apis: Mapping[str, Mapping[str, Any]] | None = None
    seed: int | None = None
    # How limits count: "fixed" windows aligned on the clock, or "sliding" logs.
    limit_algorithm: str = "fixed"
    trust_forwarded_for: bool = False
    # API Particulier.
    particulier_tokens: tuple[str, ...] = tokens.ACCEPTED_TOKENS
    particulier_blacklist: tuple[str, ...] = (tokens.BLACKLISTED_TOKEN,)
    scope_masking: bool = True
    particulier_conflicts: bool = True
    particulier_v2: str = "legacy"
    particulier_token_limit: int = 20
    particulier_token_window: float = 1.0
    particulier_ip_limit: int = 1000
    particulier_ip_window: float = 60.0
    particulier_endpoint_limit: int = 1200
    particulier_endpoint_window: float = 60.0
    particulier_endpoint_limits: Mapping[str, int] | None = None
    ban_threshold: int = 10
    ban_seconds: float = 43200.0
    ban_mode: str = "hang"
    ban_hang_seconds: float = 30.0
    # CVEC.
    cvec_etudiant_strict: bool = True
    cvec_limit: int = 0
    cvec_window: float = 60.0
    # Certif Info.
    certifinfo_tokens: tuple[str, ...] = (tokens.CERTIFINFO_TOKEN,)
    certifinfo_limit: int = 0
    certifinfo_window: float = 60.0
    # Covoiturage. An empty token list accepts any Authorization header.
    covoiturage_tokens: tuple[str, ...] = ()
    covoiturage_limit: int = 100
    covoiturage_window: float = 300.0
    # The stand-in time-stamping authority (sandbox/tsa.py).
    tsa_status: str = "granted"
    tsa_tamper: str = "none"

    @cached_property
    def _faults(self) -> dict[str, Faults]:
        base = {name: getattr(self, name) for name in FAULT_KNOBS}
        return {api: Faults(**{**base, **(self.apis or {}).get(api, {})}) for api in APIS}

    def faults_for(self, api: str) -> Faults:
        return self._faults[api]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif value is None and f.name in _MAPPINGS:
                value = {}
            elif isinstance(value, Mapping):
                value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
            out[f.name] = value
        return out


_MAPPINGS = {"error_rates", "apis", "particulier_endpoint_limits"}

_SPEC: dict[str, Callable[[Any], Any]] = {
    **FAULT_KNOBS,
    "apis": _api_overrides,
    "seed": _seed,
    "limit_algorithm": _choice("fixed", "sliding"),
    "trust_forwarded_for": _boolean,
    "particulier_tokens": _strings,
    "particulier_blacklist": _strings,
    "scope_masking": _boolean,
    "particulier_conflicts": _boolean,
    "particulier_v2": _choice("legacy", "gone"),
    "particulier_token_limit": _integer,
    "particulier_token_window": _number(0.001),
    "particulier_ip_limit": _integer,
    "particulier_ip_window": _number(0.001),
    "particulier_endpoint_limit": _integer,
    "particulier_endpoint_window": _number(0.001),
    "particulier_endpoint_limits": _int_map,
    "ban_threshold": _integer,
    "ban_seconds": _number(),
    "ban_mode": _choice("hang", "close"),
    "ban_hang_seconds": _number(),
    "cvec_etudiant_strict": _boolean,
    "cvec_limit": _integer,
    "cvec_window": _number(0.001),
    "certifinfo_tokens": _strings,
    "certifinfo_limit": _integer,
    "certifinfo_window": _number(0.001),
    "covoiturage_tokens": _strings,
    "covoiturage_limit": _integer,
    "covoiturage_window": _number(0.001),
    "tsa_status": _choice("granted", "rejection"),
    "tsa_tamper": _choice("none", "nonce", "imprint", "signature"),
}
assert set(_SPEC) == {f.name for f in fields(Knobs)}, "every knob needs a validator"


def apply(knobs: Knobs, changes: Mapping[str, Any]) -> Knobs:
    """A copy of ``knobs`` with ``changes`` applied; raises KnobError listing every problem.

    Each given key replaces its whole value (``apis`` and ``error_rates`` included)."""
    if not isinstance(changes, Mapping):
        raise KnobError("knobs must be a JSON object")
    problems, checked = [], {}
    for name, value in changes.items():
        validator = _SPEC.get(name)
        if validator is None:
            problems.append(f"{name}: unknown knob")
            continue
        try:
            checked[name] = validator(value)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise KnobError("; ".join(problems))
    return replace(knobs, **checked)


def load_file(path: str | Path) -> Knobs:
    """Knobs from a YAML or JSON file (a mapping of knob names to values)."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return apply(Knobs(), data or {})


class KnobStore:
    """The knobs in force, and the start-up knobs that a reset goes back to."""

    def __init__(self, startup: Knobs | None = None) -> None:
        self._lock = threading.Lock()
        self.startup = startup or Knobs()
        self.current = self.startup

    def update(self, changes: Mapping[str, Any]) -> Knobs:
        with self._lock:
            self.current = apply(self.current, changes)
            return self.current

    def reset(self) -> Knobs:
        with self._lock:
            self.current = self.startup
            return self.current
