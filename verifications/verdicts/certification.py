"""Certification (Certif Info): does the declared certification exist, is it active, and does
its European level meet the programme's requirement? Certif Info says nothing about whether the
applicant holds it: every decision carries a note saying so.

Rules, in order:

1. archived or inactive (``archive``, ``actif``, a state label, or the declared RNCP/RS code's
   own ``actif`` flag) -> ``contradicted`` ``certification.archived``;
2. a required minimum level and no level in the answer -> ``not_found``
   ``certification.level_unknown`` (the source does not know the level: a clerk must look; RS
   certifications have none);
3. a level below the required one -> ``contradicted`` ``certification.below_level``;
4. otherwise ``confirmed`` (``certification.confirmed_level`` when a level was required,
   ``certification.confirmed`` otherwise). A status the answer does not give is not read as
   archived: the decision carries the ``certification.status_unknown`` note.

Not found -> ``not_found`` ``certification.not_found``.

``valid_until``: 30 days for an answer about an existing certification (the repertoires change
slowly, archiving happens on fixed dates), 7 days for not found.
"""

import datetime as dt
from typing import Any

from admissions.claims import CertificationDeclared
from admissions.enums import Verdict
from verifications.providers.base import CertificationRecord, ProviderResult
from verifications.verdicts.common import Decision, decision, row


FOUND_RECHECK = dt.timedelta(days=30)
NOT_FOUND_RECHECK = dt.timedelta(days=7)


def decide(declared: CertificationDeclared, result: ProviderResult, now: dt.datetime) -> Decision:
    notes = ["certification.holding_not_checked"]
    code = "".join(declared.code.split()).upper()
    if not result.found:
        return decision(
            Verdict.NOT_FOUND,
            "certification.not_found",
            params={"code": code},
            notes=notes,
            evidence={"found": False, "error_code": result.call.provider_error_code},
            valid_until=now + NOT_FOUND_RECHECK,
        )
    record = result.data
    if not isinstance(record, CertificationRecord):
        raise TypeError("a certification result carries a CertificationRecord")

    archived = record.archived is True or record.code_active is False
    status_known = record.archived is not None or record.code_active is not None
    evidence: dict[str, Any] = {
        "certifinfo_id": record.certifinfo_id,
        "niveau_europeen": record.level,
        "archived": record.archived,
        "code_active": record.code_active,
        "matched_by": record.matched_by,
    }
    diff = [_code_row(code, record)]
    if status_known:
        diff.append(row("status", "active", "archived" if archived else "active", not archived))
    if declared.min_level is not None:
        meets = record.level is not None and record.level >= declared.min_level
        diff.append(row("level", declared.min_level, record.level, meets))
    if not status_known:
        notes.append("certification.status_unknown")
    if record.candidates > 1:
        notes.append("certification.several_candidates")
    if archived:
        verdict, reason_code = Verdict.CONTRADICTED, "certification.archived"
    elif declared.min_level is None:
        verdict, reason_code = Verdict.CONFIRMED, "certification.confirmed"
    elif record.level is None:
        verdict, reason_code = Verdict.NOT_FOUND, "certification.level_unknown"
    elif record.level < declared.min_level:
        verdict, reason_code = Verdict.CONTRADICTED, "certification.below_level"
    else:
        verdict, reason_code = Verdict.CONFIRMED, "certification.confirmed_level"
    return decision(
        verdict,
        reason_code,
        params={"code": code, "level": record.level, "min_level": declared.min_level},
        diff=diff,
        notes=notes,
        evidence=evidence,
        valid_until=now + FOUND_RECHECK,
    )


def _code_row(code: str, record: CertificationRecord) -> dict[str, Any]:
    """The declared code against what the source lists: the Certif Info id for an id, else the
    RNCP/RS codes (a source that lists none was searched by the code itself)."""
    if code.isdigit():
        source_id = record.certifinfo_id or ""
        same = source_id.isdigit() and int(source_id) == int(code)
        return row("code", code, record.certifinfo_id, same)
    listed = not record.codes or code in record.codes
    return row("code", code, code if listed else ", ".join(record.codes), listed)
