"""Covoiturage (Registre de preuve de covoiturage): does the attestation exist, and is it
``ok`` rather than ``expired``? The API is deprecated upstream: every decision says so.

The source's positive statement is ``type``: ``expired`` says the attestation is no longer
valid, the only ``contradicted``. The UUID is an echo of the question: compared in its canonical
form (case, hyphens, braces and a ``urn:uuid:`` prefix ignored), and another UUID is a
``mismatch``, never a contradiction (docs/VERDICTS.md). No ``revoked`` type is documented: an
undocumented type is an unexpected answer, not a contradiction.

Rules, in order:

1. a ``type`` other than ``ok``/``expired`` (or none) -> ``unavailable``
   ``source.unexpected_answer``;
2. another UUID in the answer than the declared one -> ``mismatch`` ``covoiturage.uuid_differs``;
3. ``expired`` -> ``contradicted`` ``covoiturage.expired``;
4. ``ok`` -> ``confirmed`` ``covoiturage.confirmed``; the declared UUID echoed in another
   writing (upper case, no hyphens...) adds the ``covoiturage.uuid_format`` note.

Not found (404) -> ``not_found`` ``covoiturage.not_found``.

``valid_until``: ``None`` for every answer. An attestation is frozen once created (the RPC
makes a new one for each request), and a UUID that is unknown today will not appear later.
"""

import datetime as dt
import uuid as uuidlib
from typing import Any

from verifications.claims import CovoiturageDeclared
from verifications.enums import Verdict
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
    uuid = canonical_uuid(declared.uuid)
    same_uuid = record.uuid is None or canonical_uuid(record.uuid) == uuid
    diff = []
    if record.uuid is not None:
        diff.append(row("uuid", uuid, record.uuid, same_uuid))
        if same_uuid and record.uuid != uuid:
            notes.append("covoiturage.uuid_format")
    diff.append(row("type", "ok", record.type, record.type == "ok"))
    if not same_uuid:
        verdict, reason_code = Verdict.MISMATCH, "covoiturage.uuid_differs"
    elif record.type == "expired":
        verdict, reason_code = Verdict.CONTRADICTED, "covoiturage.expired"
    else:
        verdict, reason_code = Verdict.CONFIRMED, "covoiturage.confirmed"
    return decision(verdict, reason_code, diff=diff, notes=notes, evidence=evidence)


def canonical_uuid(value: str) -> str:
    """The lower-case hyphenated form of a UUID however written; other text lower-cased and
    stripped (compared as is)."""
    text = value.strip()
    try:
        return str(uuidlib.UUID(text))
    except ValueError:
        return text.lower()
