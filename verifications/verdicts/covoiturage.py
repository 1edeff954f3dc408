"""Covoiturage (Registre de preuve de covoiturage): does the attestation exist, and is it
``ok`` rather than ``expired``? The API is deprecated upstream: every decision says so.

Rules, in order:

1. a ``type`` other than ``ok``/``expired`` (or none) -> ``unavailable``
   ``source.unexpected_answer``;
2. another UUID in the answer than the declared one -> ``mismatch`` ``covoiturage.uuid_differs``;
3. ``expired`` -> ``contradicted`` ``covoiturage.expired``;
4. ``ok`` -> ``confirmed`` ``covoiturage.confirmed``.

Not found (404) -> ``not_found`` ``covoiturage.not_found``.

``valid_until``: ``None`` for every answer. An attestation is frozen once created (the RPC
makes a new one for each request), and a UUID that is unknown today will not appear later.
"""

import datetime as dt
from typing import Any

from admissions.claims import CovoiturageDeclared
from admissions.enums import Verdict
from verifications.providers.base import CovoiturageRecord, ProviderResult
from verifications.verdicts.common import Decision, decision, row, unexpected_answer


TYPES = ("ok", "expired")


def decide(declared: CovoiturageDeclared, result: ProviderResult, now: dt.datetime) -> Decision:
    notes = ["covoiturage.deprecated"]
    if not result.found:
        return decision(
            Verdict.NOT_FOUND,
            "covoiturage.not_found",
            notes=notes,
            evidence={"found": False, "error_code": result.call.provider_error_code},
        )
    record = result.data
    if not isinstance(record, CovoiturageRecord):
        raise TypeError("a covoiturage result carries a CovoiturageRecord")
    evidence: dict[str, Any] = {
        "type": record.type,
        "start_at": record.start_at.isoformat() if record.start_at else None,
        "end_at": record.end_at.isoformat() if record.end_at else None,
        "created_at": record.created_at.isoformat() if record.created_at else None,
    }
    if record.type not in TYPES:
        return unexpected_answer("type", now, evidence)
    uuid = declared.uuid.strip().lower()
    diff = []
    if record.uuid is not None:
        diff.append(row("uuid", uuid, record.uuid, record.uuid == uuid))
    diff.append(row("type", "ok", record.type, record.type == "ok"))
    if record.uuid is not None and record.uuid != uuid:
        verdict, reason_code = Verdict.MISMATCH, "covoiturage.uuid_differs"
    elif record.type == "expired":
        verdict, reason_code = Verdict.CONTRADICTED, "covoiturage.expired"
    else:
        verdict, reason_code = Verdict.CONFIRMED, "covoiturage.confirmed"
    return decision(verdict, reason_code, diff=diff, notes=notes, evidence=evidence)
