"""Verdicts: pure functions from a declared claim and a provider's answer to a decision.

    decide(kind, *, declared, identity, result, error, now) -> Decision

No HTTP, no ORM, no settings: everything comes in as arguments, ``now`` included (aware). The
arguments, what ``contradicted`` means for every kind, and how errors decide:
docs/VERDICTS.md §The verdict functions and §The rule; each kind's rules in its module.
"""

import datetime as dt
from typing import Any

from verifications.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    Declared,
    ScolariteDeclared,
)
from verifications.enums import CLAIM_KIND_SOURCE, ClaimKind
from verifications.providers.base import Identity, ProviderError, ProviderResult
from verifications.verdicts import certification, covoiturage, cvec, scolarite
from verifications.verdicts.common import Decision, error_decision
from verifications.verdicts.reasons import NOTES, REASONS, render_note, render_reason


_DECLARED_TYPES: dict[str, type[Any]] = {
    ClaimKind.SCOLARITE: ScolariteDeclared,
    ClaimKind.CVEC: CvecDeclared,
    ClaimKind.CERTIFICATION: CertificationDeclared,
    ClaimKind.COVOITURAGE: CovoiturageDeclared,
}


def decide(
    kind: str,
    *,
    declared: Declared,
    identity: Identity | None,
    result: ProviderResult | None,
    error: ProviderError | None,
    now: dt.datetime,
) -> Decision:
    """The decision for one claim (see the module docstring)."""
    kind = ClaimKind(kind)
    if not isinstance(declared, _DECLARED_TYPES[kind]):
        raise TypeError(f"a {kind} claim declares a {_DECLARED_TYPES[kind].__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if result is not None and error is not None:
        raise ValueError("give exactly one of result and error")
    if error is not None:
        return error_decision(error, now)
    if result is None:
        raise ValueError("give exactly one of result and error")
    if result.source != CLAIM_KIND_SOURCE[kind]:
        raise ValueError(f"a {kind} claim is checked against {CLAIM_KIND_SOURCE[kind]}")
    match declared:
        case ScolariteDeclared():
            return scolarite.decide(declared, identity, result, now)
        case CvecDeclared():
            return cvec.decide(declared, identity, result, now)
        case CertificationDeclared():
            return certification.decide(declared, result, now)
        case CovoiturageDeclared():
            return covoiturage.decide(declared, result, now)
    raise TypeError(kind)  # pragma: no cover - every declared type is matched above


__all__ = [
    "NOTES",
    "REASONS",
    "Decision",
    "decide",
    "render_note",
    "render_reason",
]
