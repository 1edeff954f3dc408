"""Scolarité (API Particulier, statut élève scolarisé): is the pupil enrolled in the declared
establishment (UAI) for the declared school year?

Rules, in order (the first that applies decides):

1. no ``est_scolarise`` in the answer (the token lacks ``men_statut_scolarite``) -> ``rejected``
   ``scolarite.scope_missing``;
2. the returned identity differs from the applicant's -> ``mismatch``
   ``scolarite.identity_mismatch`` (a claim about someone else is neither confirmed nor
   contradicted);
3. ``est_scolarise`` false -> ``contradicted`` ``scolarite.not_enrolled``;
4. another UAI -> ``contradicted`` ``scolarite.other_establishment``;
5. another school year -> ``contradicted`` ``scolarite.other_year``;
6. otherwise ``confirmed`` ``scolarite.confirmed``.

Not found (404 ``30003``) -> ``not_found`` ``scolarite.not_found``, never a false claim.

``valid_until``: confirmed until the end of the declared school year (1 September after it), at
most 30 days (a pupil can leave mid-year); contradicted and not found until after the next
nightly refresh of secondary-school data (06:00 Paris); mismatch 30 days (a clerk looks). Once
the declared school year is over, the answer is history: ``None`` (never stale), mismatch aside.
"""

import datetime as dt
from typing import Any

from admissions.claims import ScolariteDeclared
from admissions.enums import Verdict
from verifications.providers.base import Identity, ProviderResult, ScolariteRecord
from verifications.verdicts.common import (
    IDENTITY_FIELDS,
    Decision,
    academic_year,
    decision,
    differing,
    end_of_academic_year,
    identity_rows,
    local,
    next_morning,
    row,
    school_year_label,
)


CONFIRMED_FOR_AT_MOST = dt.timedelta(days=30)
MISMATCH_RECHECK = dt.timedelta(days=30)


def decide(
    declared: ScolariteDeclared,
    identity: Identity | None,
    result: ProviderResult,
    now: dt.datetime,
) -> Decision:
    notes = ["scolarite.nightly"]
    if declared.school_year > academic_year(now):
        notes.append("scolarite.next_year_provisional")
    year_over = end_of_academic_year(declared.school_year) <= now
    negative_until = None if year_over else next_morning(now)
    if not result.found:
        notes += ["scolarite.not_covered", *_early_year_notes(declared, now)]
        return decision(
            Verdict.NOT_FOUND,
            "scolarite.not_found",
            notes=notes,
            evidence={"found": False, "error_code": result.call.provider_error_code},
            valid_until=negative_until,
        )
    record = result.data
    if not isinstance(record, ScolariteRecord):
        raise TypeError("a scolarité result carries a ScolariteRecord")

    evidence: dict[str, Any] = {
        "est_scolarise": record.enrolled,
        "code_uai": record.uai,
        "annee_scolaire": record.school_year,
        "statut_eleve.code": record.status_code,
    }
    declared_year = school_year_label(declared.school_year)
    diff = identity_rows(
        identity,
        birth_name=record.birth_name,
        first_name=record.first_name,
        sex=record.sex,
        birth_date=record.birth_date,
    )
    if record.enrolled is not None:
        diff.append(row("enrolled", True, record.enrolled, record.enrolled))
    if record.uai is not None:
        diff.append(row("uai", declared.uai, record.uai, record.uai == declared.uai.upper()))
    if record.school_year is not None:
        same_year = record.school_year_start == declared.school_year
        diff.append(row("school_year", declared_year, record.school_year, same_year))
    if record.enrolled is None or record.uai is None or record.birth_name is None:
        notes.append("source.masked_fields")
    if record.scholarship is False and _scholarship_unreliable(now):
        notes.append("scolarite.scholarship_unreliable")
    evidence["identity_match"] = not differing(diff, IDENTITY_FIELDS)

    if record.enrolled is None:
        return decision(
            Verdict.REJECTED, "scolarite.scope_missing", diff=diff, notes=notes, evidence=evidence
        )
    mismatched = differing(diff, IDENTITY_FIELDS)
    if mismatched:
        return decision(
            Verdict.MISMATCH,
            "scolarite.identity_mismatch",
            params={"fields": ", ".join(mismatched)},
            diff=diff,
            notes=[*notes, "scolarite.identity_from_school"],
            evidence=evidence,
            valid_until=now + MISMATCH_RECHECK,
        )

    def contradicted(reason_code: str, params: dict[str, Any]) -> Decision:
        return decision(
            Verdict.CONTRADICTED,
            reason_code,
            params=params,
            diff=diff,
            notes=[*notes, *_early_year_notes(declared, now)],
            evidence=evidence,
            valid_until=negative_until,
        )

    if not record.enrolled:
        return contradicted(
            "scolarite.not_enrolled",
            {
                "school_year": record.school_year or declared_year,
                "status": record.status_label or record.status_code,
            },
        )
    if "uai" in differing(diff, ("uai",)):
        return contradicted(
            "scolarite.other_establishment",
            {"source_uai": record.uai, "declared_uai": declared.uai},
        )
    if "school_year" in differing(diff, ("school_year",)):
        return contradicted(
            "scolarite.other_year",
            {"source_year": record.school_year, "declared_year": declared_year},
        )
    return decision(
        Verdict.CONFIRMED,
        "scolarite.confirmed",
        params={
            "uai": record.uai or declared.uai,
            "school_year": record.school_year or declared_year,
        },
        diff=diff,
        notes=notes,
        evidence=evidence,
        valid_until=(
            None
            if year_over
            else min(end_of_academic_year(declared.school_year), now + CONFIRMED_FOR_AT_MOST)
        ),
    )


def _early_year_notes(declared: ScolariteDeclared, now: dt.datetime) -> list[str]:
    """Private schools often appear only after the October "constat de rentrée"."""
    if local(now).date() < dt.date(declared.school_year, 11, 1):
        return ["scolarite.private_before_october"]
    return []


def _scholarship_unreliable(now: dt.datetime) -> bool:
    """``est_boursier: false`` means little between the August purge and mid-October."""
    today = local(now).date()
    return dt.date(today.year, 8, 1) <= today < dt.date(today.year, 10, 15)
