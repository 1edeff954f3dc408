"""Scolarité (API Particulier, statut élève scolarisé): is the pupil enrolled in the declared
establishment (UAI) for the declared school year?

The source is *asked* about one establishment and one year; ``est_scolarise`` is its only
positive statement about the claim. The UAI and the year label it sends back are echoes of the
question, and real answers echo them inconsistently (docs/VERDICTS.md: ``annee_scolaire`` "2025"
or "2024-2025" for ``anneeScolaire=2025``, ``code_uai`` 0210015C for a request about 0890003V),
so they never contradict a claim: an enrolled pupil is never ``contradicted``.

Rules, in order (the first that applies decides):

1. no ``est_scolarise`` in the answer (the token lacks ``men_statut_scolarite``) -> ``rejected``
   ``scolarite.scope_missing``;
2. the returned identity differs from the applicant's -> ``mismatch``
   ``scolarite.identity_mismatch`` (a claim about someone else is neither confirmed nor
   contradicted);
3. ``est_scolarise`` false -> ``contradicted`` ``scolarite.not_enrolled``;
4. another UAI echoed (compared without spaces and case) -> ``mismatch``
   ``scolarite.other_establishment`` (an annex, a main site, or the source's error: a clerk
   looks);
5. another school year echoed ("2024-2025" for a declared 2025-2026, or an unreadable label)
   -> ``mismatch`` ``scolarite.other_year``;
6. otherwise ``confirmed`` ``scolarite.confirmed``; the same year written otherwise ("2025" for
   2025-2026) adds the ``scolarite.year_label_format`` note.

Not found (404 ``30003``) -> ``not_found`` ``scolarite.not_found``, never a false claim.

``valid_until``: confirmed until the end of the declared school year (1 September after it), at
most 30 days (a pupil can leave mid-year); contradicted and not found until after the next
nightly refresh of secondary-school data (06:00 Paris); mismatch 30 days (a clerk looks). Once
the declared school year is over, the answer is history: ``None`` (never stale), mismatch aside.
"""

import datetime as dt
from typing import Any

from verifications.claims import ScolariteDeclared
from verifications.enums import Verdict
from verifications.providers.base import Identity, ProviderResult, ScolariteRecord
from verifications.verdicts.common import (
    FORMAT_ONLY,
    IDENTITY_FIELDS,
    OTHER,
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
    year_echo,
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
        diff.append(row("uai", declared.uai, record.uai, _uai(record.uai) == _uai(declared.uai)))
    year = year_echo(record.school_year, declared.school_year)
    if record.school_year is not None:
        diff.append(row("school_year", declared_year, record.school_year, year != OTHER))
        if year == FORMAT_ONLY:
            notes.append("scolarite.year_label_format")
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

    if not record.enrolled:
        return decision(
            Verdict.CONTRADICTED,
            "scolarite.not_enrolled",
            params={
                "school_year": record.school_year or declared_year,
                "status": record.status_label or record.status_code,
            },
            diff=diff,
            notes=[*notes, *_early_year_notes(declared, now)],
            evidence=evidence,
            valid_until=negative_until,
        )

    # Enrolled: what differs now is an echo of the question, for a clerk to look at.
    def echo_mismatch(reason_code: str, params: dict[str, Any]) -> Decision:
        return decision(
            Verdict.MISMATCH,
            reason_code,
            params=params,
            diff=diff,
            notes=notes,
            evidence=evidence,
            valid_until=now + MISMATCH_RECHECK,
        )

    if "uai" in differing(diff, ("uai",)):
        return echo_mismatch(
            "scolarite.other_establishment",
            {"source_uai": record.uai, "declared_uai": declared.uai},
        )
    if "school_year" in differing(diff, ("school_year",)):
        return echo_mismatch(
            "scolarite.other_year",
            {"source_year": record.school_year, "declared_year": declared_year},
        )
    return decision(
        Verdict.CONFIRMED,
        "scolarite.confirmed",
        params={"uai": record.uai or declared.uai, "school_year": declared_year},
        diff=diff,
        notes=notes,
        evidence=evidence,
        valid_until=(
            None
            if year_over
            else min(end_of_academic_year(declared.school_year), now + CONFIRMED_FOR_AT_MOST)
        ),
    )


def _uai(uai: str) -> str:
    return "".join(uai.split()).upper()


def _early_year_notes(declared: ScolariteDeclared, now: dt.datetime) -> list[str]:
    """Private schools often appear only after the October "constat de rentrée"."""
    if local(now).date() < dt.date(declared.school_year, 11, 1):
        return ["scolarite.private_before_october"]
    return []


def _scholarship_unreliable(now: dt.datetime) -> bool:
    """``est_boursier: false`` means little between the August purge and mid-October."""
    today = local(now).date()
    return dt.date(today.year, 8, 1) <= today < dt.date(today.year, 10, 15)
