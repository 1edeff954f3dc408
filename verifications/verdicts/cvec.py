"""CVEC (API de contrôle de la CVEC): does the applicant hold a valid attestation?

The source's positive statement is ``etat.code``: outside the valid set the attestation is not
paid, or cancelled, and the claim is ``contradicted``. The campaign is not a statement of the
source but a question (or an echo of one): a campaign that differs is never a contradiction
(docs/VERDICTS.md).

Rules, in order:

1. no ``etat.code`` in the answer -> ``unavailable`` ``source.unexpected_answer``;
2. the holder's identity (birth name, given name, sex, birth date, where both sides have them)
   differs from the applicant's -> ``mismatch`` ``cvec.holder_mismatch``;
3. the campaign:

   * when the answer echoes one (``campagne``/``annee``/``year``, none documented [?]): another
     campaign than the declared one (or, none declared, than those in progress) -> ``mismatch``
     ``cvec.campaign_echo_differs``; the same campaign written otherwise ("2025" for 2025-2026)
     adds the ``cvec.campaign_label_format`` note;
   * otherwise, a declared campaign that cannot be the campaign in progress -> ``mismatch``
     ``cvec.campaign_differs``: the API answers for "la campagne en cours" only [V], which
     campaign that is around the summer is not documented [?], so the campaign starting this
     academic year or the next one both count as "in progress", and anything else is for a
     clerk to look at rather than an automatic contradiction;

4. ``str(etat.code).strip()`` outside {"70", "71", "73", "75", "76", "98"} -> ``contradicted``
   ``cvec.invalid_state`` ("Dans tout autre état, l'attestation est à considérer comme non
   valide" [V]);
5. otherwise ``confirmed`` ``cvec.confirmed``.

Not found (HTTP 400) -> ``not_found`` ``cvec.not_found``.

``valid_until``: confirmed until the end of the campaign's academic year (1 September after it;
the declared or echoed campaign, else the one in progress); contradicted and not found one day
(a payment or an exemption can come through); mismatch 30 days.
"""

import datetime as dt

from verifications.claims import CvecDeclared
from verifications.enums import Verdict
from verifications.providers.base import CvecRecord, Identity, ProviderResult
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
    row,
    school_year_label,
    unexpected_answer,
    year_echo,
)
from verifications.verdicts.reasons import CVEC_VALID_STATES


# "Etat de validation" codes of a valid attestation [V: docs/api/cvec.md §Validity].
VALID_STATES = frozenset(CVEC_VALID_STATES)
NEGATIVE_RECHECK = dt.timedelta(days=1)
MISMATCH_RECHECK = dt.timedelta(days=30)


def is_valid_state(code: object) -> bool:
    return code is not None and str(code).strip() in VALID_STATES


def current_campaigns(now: dt.datetime) -> tuple[int, int]:
    """The campaigns that may be "in progress" at ``now``: this academic year's and the next
    (students pay for September during the spring and summer before it)."""
    year = academic_year(now)
    return year, year + 1


def decide(
    declared: CvecDeclared,
    identity: Identity | None,
    result: ProviderResult,
    now: dt.datetime,
) -> Decision:
    notes = ["cvec.current_campaign"]
    if not result.found:
        return decision(
            Verdict.NOT_FOUND,
            "cvec.not_found",
            notes=notes,
            evidence={"found": False, "error_code": result.call.provider_error_code},
            valid_until=now + NEGATIVE_RECHECK,
        )
    record = result.data
    if not isinstance(record, CvecRecord):
        raise TypeError("a CVEC result carries a CvecRecord")
    state = str(record.state_code).strip() if record.state_code is not None else None
    evidence: dict[str, object] = {"etat.code": state, "etat.libelle": record.state_label}
    if state is None:
        return unexpected_answer("etat.code", now, evidence)

    diff = identity_rows(
        identity,
        birth_name=record.birth_name,
        first_name=record.first_name,
        sex=record.sex,
        birth_date=record.birth_date,
    )
    compared = [r["field"] for r in diff]
    if identity is not None and "birth_date" not in compared:
        notes.append("cvec.birth_date_not_compared")
    valid = state in VALID_STATES
    diff.append(row("state", "valid", state, valid))
    campaigns = current_campaigns(now)
    current = " / ".join(school_year_label(c) for c in campaigns)
    campaign = declared.campaign
    echoed = record.campaign is not None
    if echoed:
        # The source says which campaign it answers for: compare that echo.
        expected = [campaign] if campaign is not None else list(campaigns)
        echoes = {c: year_echo(record.campaign, c) for c in expected}
        matched = next((c for c in expected if echoes[c] != OTHER), None)
        in_progress = matched is not None
        asked = school_year_label(campaign) if campaign is not None else current
        diff.append(row("campaign", asked, record.campaign, in_progress))
        if matched is not None:
            campaign = matched
            if echoes[matched] == FORMAT_ONLY:
                notes.append("cvec.campaign_label_format")
    else:
        in_progress = campaign is None or campaign in campaigns
        if campaign is not None:
            diff.append(row("campaign", school_year_label(campaign), current, in_progress))
    mismatched = differing(diff, IDENTITY_FIELDS)
    evidence["identity_match"] = not mismatched
    evidence["identity_fields_compared"] = [f for f in compared if f in IDENTITY_FIELDS]
    if echoed:
        evidence["campagne"] = record.campaign

    if mismatched:
        return decision(
            Verdict.MISMATCH,
            "cvec.holder_mismatch",
            params={"fields": ", ".join(mismatched)},
            diff=diff,
            notes=notes,
            evidence=evidence,
            valid_until=now + MISMATCH_RECHECK,
        )
    if not in_progress and echoed:
        return decision(
            Verdict.MISMATCH,
            "cvec.campaign_echo_differs",
            params={
                "source": record.campaign,
                "declared": (
                    school_year_label(declared.campaign)
                    if declared.campaign is not None
                    else current
                ),
            },
            diff=diff,
            notes=notes,
            evidence=evidence,
            valid_until=now + MISMATCH_RECHECK,
        )
    if not in_progress:
        return decision(
            Verdict.MISMATCH,
            "cvec.campaign_differs",
            params={"current": current, "declared": school_year_label(declared.campaign or 0)},
            diff=diff,
            notes=notes,
            evidence=evidence,
            valid_until=now + MISMATCH_RECHECK,
        )
    params = {"state": state, "label": record.state_label}
    if not valid:
        return decision(
            Verdict.CONTRADICTED,
            "cvec.invalid_state",
            params=params,
            diff=diff,
            notes=notes,
            evidence=evidence,
            valid_until=now + NEGATIVE_RECHECK,
        )
    end = end_of_academic_year(campaign if campaign is not None else academic_year(now))
    return decision(
        Verdict.CONFIRMED,
        "cvec.confirmed",
        params=params,
        diff=diff,
        notes=notes,
        evidence=evidence,
        valid_until=end if end > now else now + NEGATIVE_RECHECK,
    )
