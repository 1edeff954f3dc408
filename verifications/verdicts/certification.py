"""Certification (Certif Info): does the declared certification exist, and does its European
level meet the programme's requirement? Certif Info says nothing about whether the applicant
holds it: every decision carries a note saying so.

The source's positive statement against a claim is a level below the required one. An archived
or inactive fiche is not one: people hold diplomas whose registration has since ended, so an
archived certification whose level meets the requirement is ``confirmed`` with a caveat naming
the end of its registration. The code the source lists is an echo of the question: compared in
its normalised form (spaces, case, zeros leading the number ignored), and a code that still
differs is a ``mismatch``, never a contradiction (docs/VERDICTS.md).

Rules, in order:

1. the code the source lists (or, for a numeric id, its Certif Info id) is not the declared one
   even normalised -> ``mismatch`` ``certification.code_differs``;
2. a level below the required one -> ``contradicted`` ``certification.below_level``;
3. a required minimum level and no level in the answer -> ``not_found``
   ``certification.level_unknown`` (the source does not know the level: a clerk must look; RS
   certifications have none);
4. archived or inactive (``archive``, ``actif``, a state label, or the declared RNCP/RS code's
   own ``actif`` flag) -> ``confirmed`` ``certification.archived`` (``certification.archived_level``
   when a level was required and met), the end of registration (``registration_ended``, from
   ``rncp_historique``) in the reason, and the note ``certification.archived_caveat``, or
   ``certification.archived_end_unknown`` when the source gives no end date;
5. otherwise ``confirmed`` (``certification.confirmed_level`` when a level was required,
   ``certification.confirmed`` otherwise). A status the answer does not give is not read as
   archived: the decision carries the ``certification.status_unknown`` note.

The same code written otherwise by the source ("RNCP12345" for a declared "RNCP012345") adds the
``certification.code_form`` note.

Not found -> ``not_found`` ``certification.not_found``.

``valid_until``: 30 days for an answer about an existing certification (the repertoires change
slowly, archiving happens on fixed dates), 7 days for not found.
"""

import datetime as dt
from typing import Any

from verifications.claims import CertificationDeclared
from verifications.enums import Verdict
from verifications.providers.base import (
    CertificationRecord,
    ProviderResult,
    certification_code_key,
)
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
    ended = record.registration_ended
    evidence: dict[str, Any] = {
        "certifinfo_id": record.certifinfo_id,
        "niveau_europeen": record.level,
        "archived": record.archived,
        "code_active": record.code_active,
        "matched_by": record.matched_by,
        "date_fin_enregistrement": ended.isoformat() if ended else None,
    }
    code_row = _code_row(code, record)
    diff = [code_row]
    if code_row["match"] and code_row["source"] not in (None, code):
        notes.append("certification.code_form")
    if status_known:
        diff.append(row("status", "active", "archived" if archived else "active", not archived))
    if declared.min_level is not None:
        meets = record.level is not None and record.level >= declared.min_level
        diff.append(row("level", declared.min_level, record.level, meets))
    if not status_known:
        notes.append("certification.status_unknown")
    if record.candidates > 1:
        notes.append("certification.several_candidates")
    params: dict[str, Any] = {"code": code, "level": record.level, "min_level": declared.min_level}
    if not code_row["match"]:
        verdict, reason_code = Verdict.MISMATCH, "certification.code_differs"
        params["source_code"] = code_row["source"]
    elif (
        declared.min_level is not None
        and record.level is not None
        and record.level < declared.min_level
    ):
        verdict, reason_code = Verdict.CONTRADICTED, "certification.below_level"
    elif declared.min_level is not None and record.level is None:
        verdict, reason_code = Verdict.NOT_FOUND, "certification.level_unknown"
    elif archived:
        verdict = Verdict.CONFIRMED
        reason_code = (
            "certification.archived"
            if declared.min_level is None
            else "certification.archived_level"
        )
        params["ended"] = ended.strftime("%d/%m/%Y") if ended else None
        notes.append(
            "certification.archived_caveat" if ended else "certification.archived_end_unknown"
        )
    elif declared.min_level is None:
        verdict, reason_code = Verdict.CONFIRMED, "certification.confirmed"
    else:
        verdict, reason_code = Verdict.CONFIRMED, "certification.confirmed_level"
    return decision(
        verdict,
        reason_code,
        params=params,
        diff=diff,
        notes=notes,
        evidence=evidence,
        valid_until=now + FOUND_RECHECK,
    )


def _code_row(code: str, record: CertificationRecord) -> dict[str, Any]:
    """The declared code against what the source lists, both normalised
    (``certification_code_key``): the Certif Info id for an id, else the RNCP/RS codes. A
    source that echoes nothing was asked by the code itself (the detail by that id, the search
    by that code): it matches. The source column shows the source's own writing."""
    key = certification_code_key(code)
    if code.isdigit():
        source_id = record.certifinfo_id
        if source_id is None:
            return row("code", code, code, True)
        return row("code", code, source_id, certification_code_key(source_id) == key)
    if not record.codes:
        return row("code", code, code, True)
    listed = next((c for c in record.codes if certification_code_key(c) == key), None)
    if listed is not None:
        return row("code", code, listed, True)
    return row("code", code, ", ".join(record.codes), False)
