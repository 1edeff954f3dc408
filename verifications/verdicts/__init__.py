"""Verdicts: pure functions from a declared claim and a provider's answer to a decision.

No HTTP, no ORM, no settings: everything comes in as arguments, ``now`` included (aware).

    decide(kind, *, declared, identity, result, error, now) -> Decision

* ``kind``: a ``ClaimKind`` value ("scolarite", "cvec", "certification", "covoiturage");
* ``declared``: the claim's typed declared data (``admissions.claims.ScolariteDeclared``...);
* ``identity``: the applicant (``providers.base.Identity``), or ``None`` where the kind does
  not use it (certification, covoiturage) or nothing is known; empty fields are not compared;
* exactly one of ``result`` (a ``ProviderResult``) and ``error`` (the *last* ``ProviderError``,
  once the pipeline has stopped retrying);
* ``now``: an aware datetime; it sets ``valid_until`` and the date-dependent caveats.

What ``contradicted`` means, for every kind (the contract, with its sources:
docs/VERDICTS.md):

* ``contradicted`` only when the source *positively states* that the declared fact is false:
  the pupil is not enrolled (``est_scolarise: false``); the CVEC attestation is not paid or is
  cancelled (``etat.code`` outside the valid set); the certification is below the required
  level; the covoiturage attestation has expired.
* What the source *echoes back* of the question is never a contradiction: the school-year
  label, the UAI, the CVEC campaign, the certification code's writing, the attestation's UUID.
  A difference there is a ``mismatch`` (a person looks; the row is in the diff, the reason says
  what differs), or ``confirmed`` with a note when it is only one of writing ("2025" for
  2025-2026, "RNCP012345" for "RNCP12345", an upper-case UUID).
* Nor is an archived certification: people hold diplomas whose registration has since ended
  (``confirmed``: the reason names the end of registration, a note says what it means, or that
  no end date is known).
* ``not_found`` is never a false claim either, nor is an identity that differs (``mismatch``).

The per-kind rules, their order and their ``valid_until`` policy are in each module's docstring
(``verdicts.scolarite``, ``.cvec``, ``.certification``, ``.covoiturage``); errors, whatever the
kind, decide as follows (``common.error_decision``):

========================  =============  ===============================================
error                     verdict        reason_code
========================  =============  ===============================================
ProviderNotConfigured     rejected       source.not_configured
ProviderRejected          rejected       source.token_invalid / token_expired /
                                         token_revoked / forbidden / missing_recipient /
                                         route_not_found / invalid_request (by error code,
                                         then HTTP status)
ProviderRateLimited       unavailable    source.rate_limited, or source.conflict (409)
ProviderUnavailable       unavailable    source.unavailable; source.failing_for_this_request
                                         when the source answered other requests meanwhile,
                                         source.down behind an open breaker (the pipeline
                                         says which: ``error_decision``'s keywords)
========================  =============  ===============================================

``rejected`` has no ``valid_until`` (an admin must act); ``unavailable`` is re-checked after
``common.UNAVAILABLE_RECHECK``. ``not_found`` is never a false claim. Texts are in
``verdicts.reasons`` (``REASONS``, ``NOTES``, ``render_reason``, ``render_note``).
"""

import datetime as dt
from typing import Any

from admissions.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    Declared,
    ScolariteDeclared,
)
from admissions.enums import CLAIM_KIND_SOURCE, ClaimKind
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
