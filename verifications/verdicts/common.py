"""What every kind's rules share: the :class:`Decision`, diff rows, the verdicts of provider
errors, and the ``valid_until`` policy's calendar helpers."""

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from verifications.enums import Verdict
from verifications.names import first_name_matches, names_match
from verifications.providers.base import (
    ROUTE_NOT_FOUND,
    UNEXPECTED_REDIRECT,
    Identity,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from verifications.verdicts.reasons import render_note, render_reason


# The sources are French and so is the school calendar: days and years turn in Paris.
PARIS = ZoneInfo("Europe/Paris")
# When a scheduled re-verification is due after an ``unavailable`` verdict.
UNAVAILABLE_RECHECK = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Decision:
    """A verdict, why, and on what it rests.

    * ``reason`` is rendered in French; ``reason_code`` and ``reason_params`` render it again in
      any language (``reasons.render_reason``). ``notes``/``note_codes`` likewise.
    * ``diff``: one row per compared field, ``{"field", "declared", "source", "match"}``, with
      JSON values (dates as ISO strings). Fields the source did not return are not listed (a
      note says so).
    * ``evidence``: the minimum the decision rests on; never a name, a birth date or an INE.
    * ``valid_until``: when the verdict goes stale and a scheduled re-verification is due;
      ``None`` when it never goes stale by itself (frozen evidence, or a verdict waiting for a
      person, such as ``rejected``).
    """

    verdict: Verdict
    reason_code: str
    reason: str
    diff: list[dict[str, Any]]
    notes: list[str]
    evidence: dict[str, Any]
    valid_until: dt.datetime | None
    reason_params: dict[str, Any] = field(default_factory=dict)
    note_codes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI prints it, the request row stores its parts)."""
        return {
            "verdict": str(self.verdict),
            "reason_code": self.reason_code,
            "reason": self.reason,
            "reason_params": dict(self.reason_params),
            "diff": [dict(row) for row in self.diff],
            "notes": list(self.notes),
            "note_codes": list(self.note_codes),
            "evidence": dict(self.evidence),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }


def decision(
    verdict: Verdict,
    reason_code: str,
    *,
    params: dict[str, Any] | None = None,
    diff: list[dict[str, Any]] | None = None,
    notes: list[str] | None = None,
    evidence: dict[str, Any] | None = None,
    valid_until: dt.datetime | None = None,
) -> Decision:
    note_codes = list(dict.fromkeys(notes or []))  # ordered, no duplicates
    return Decision(
        verdict=verdict,
        reason_code=reason_code,
        reason=render_reason(reason_code, params),
        diff=diff or [],
        notes=[render_note(code) for code in note_codes],
        evidence=evidence or {},
        valid_until=valid_until,
        reason_params=dict(params or {}),
        note_codes=note_codes,
    )


def row(field_name: str, declared: Any, source: Any, match: bool) -> dict[str, Any]:
    return {
        "field": field_name,
        "declared": _json(declared),
        "source": _json(source),
        "match": bool(match),
    }


def differing(diff: list[dict[str, Any]], fields: tuple[str, ...]) -> list[str]:
    """The fields among ``fields`` whose row does not match, in diff order."""
    return [r["field"] for r in diff if r["field"] in fields and not r["match"]]


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return value


# --- Provider errors --------------------------------------------------------------------------

# Reason codes of ``ProviderRejected`` codes, by the sources' own error codes
# (docs/api/api-particulier.md §Errors, docs/api/covoiturage.md §Errors); other codes fall back
# on the HTTP status.
_REJECTED_REASONS = {
    "00101": "source.token_invalid",
    "-32501": "source.token_invalid",
    "00103": "source.token_expired",
    "00105": "source.token_revoked",
    "00100": "source.forbidden",
    "-32503": "source.forbidden",
    "00203": "source.missing_recipient",
    ROUTE_NOT_FOUND: "source.route_not_found",
    UNEXPECTED_REDIRECT: "source.route_not_found",
}
_REJECTED_BY_STATUS = {401: "source.token_invalid", 403: "source.forbidden"}


def error_decision(
    error: ProviderError,
    now: dt.datetime,
    *,
    failing_alone: bool = False,
    failures: int = 0,
    source_down: bool = False,
    last_error: str = "",
) -> Decision:
    """The verdict of the last error, once the pipeline has given up retrying.

    For a ``ProviderUnavailable`` (or a bare ``ProviderError``) the pipeline says why it gave up:
    ``failing_alone`` when the request's own retries (``failures`` calls) are spent while the
    source answered other requests (``source.failing_for_this_request``); ``source_down`` when
    it waited too long behind the source's open breaker, whose ``last_error`` code it shows
    (``source.down``); otherwise ``source.unavailable``. The parameters hold the error's code
    and HTTP status, which the reason shows in words (``providers.error_codes``).
    """
    call = error.call
    evidence = {"http_status": call.http_status, "error_code": call.provider_error_code}
    source = {"source": str(error.source)} if error.source else {}
    if isinstance(error, ProviderNotConfigured):
        return decision(
            Verdict.REJECTED,
            "source.not_configured",
            params={"setting": error.setting},
            evidence={"setting": error.setting},
        )
    if isinstance(error, ProviderRejected):
        reason = _REJECTED_REASONS.get(error.code) or _REJECTED_BY_STATUS.get(
            call.http_status or 0, "source.invalid_request"
        )
        return decision(
            Verdict.REJECTED,
            reason,
            params={"code": error.code, "status": call.http_status, **source},
            evidence={**evidence, "error_code": error.code},
        )
    recheck = now + UNAVAILABLE_RECHECK
    if isinstance(error, ProviderRateLimited):
        reason = "source.conflict" if error.conflict else "source.rate_limited"
        return decision(Verdict.UNAVAILABLE, reason, evidence=evidence, valid_until=recheck)
    if not isinstance(error, ProviderUnavailable):  # the base class: treat as unavailable
        evidence["error"] = type(error).__name__
    # Without a code of the source's: what Vigie recorded of the failure (a timeout...).
    code = call.provider_error_code or str(call.redacted.get("error") or "") or None
    params: dict[str, Any] = {"status": call.http_status, "code": code, **source}
    reason = "source.unavailable"
    if source_down:
        reason = "source.down"
        params["code"] = last_error or code
    elif failing_alone:
        reason = "source.failing_for_this_request"
        params["failures"] = failures
    return decision(
        Verdict.UNAVAILABLE, reason, params=params, evidence=evidence, valid_until=recheck
    )


def unexpected_answer(missing: str, now: dt.datetime, evidence: dict[str, Any]) -> Decision:
    """A 200 the rules cannot read (an essential field absent or unknown)."""
    return decision(
        Verdict.UNAVAILABLE,
        "source.unexpected_answer",
        params={"missing": missing},
        evidence=evidence,
        valid_until=now + UNAVAILABLE_RECHECK,
    )


# --- Calendar ---------------------------------------------------------------------------------


def local(now: dt.datetime) -> dt.datetime:
    return now.astimezone(PARIS)


def academic_year(now: dt.datetime) -> int:
    """The first year of the school/university year in progress (it turns on 1 September)."""
    today = local(now).date()
    return today.year if today.month >= 9 else today.year - 1


def end_of_academic_year(first_year: int) -> dt.datetime:
    """Midnight (Paris) at the start of 1 September after the year ``first_year``-``+1``."""
    return dt.datetime(first_year + 1, 9, 1, tzinfo=PARIS)


def next_morning(now: dt.datetime, hour: int = 6) -> dt.datetime:
    """The next ``hour`` o'clock in Paris strictly after ``now``: after a nightly refresh."""
    here = local(now)
    candidate = here.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= here:
        candidate = (here + dt.timedelta(days=1)).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
    # Rebuild from the wall clock so a DST change between the two days is honoured.
    return dt.datetime.combine(candidate.date(), dt.time(hour), tzinfo=PARIS)


def school_year_label(first_year: int) -> str:
    return f"{first_year}-{first_year + 1}"


# What a source echoes of the year it was asked for (docs/VERDICTS.md): "2025-2026", "2025",
# and, tolerated, "2025/2026", "2025 - 2026", "2025-26".
_YEAR_LABEL = re.compile(r"^\s*(\d{4})\s*(?:[-/\u2013\u2014]\s*(\d{4}|\d{2}))?\s*$")
SAME, FORMAT_ONLY, OTHER = "same", "format_only", "other"


def year_echo(label: object, first_year: int) -> str:
    """How a year label a source echoes compares with the year ``first_year``-``+1`` asked:
    ``SAME`` ("2025-2026" for 2025), ``FORMAT_ONLY`` (the same year written otherwise: "2025",
    "2025/2026", "2025-26") or ``OTHER`` (another year, "2024-2025", or an unreadable label)."""
    text = str(label).strip() if label is not None else ""
    if text == school_year_label(first_year):
        return SAME
    match = _YEAR_LABEL.match(text)
    if not match or int(match.group(1)) != first_year:
        return OTHER
    end = match.group(2)
    if end is None or end in (str(first_year + 1), f"{(first_year + 1) % 100:02d}"):
        return FORMAT_ONLY
    return OTHER


# --- Identity ---------------------------------------------------------------------------------

IDENTITY_FIELDS = ("birth_name", "first_names", "sex", "birth_date")


def identity_rows(
    identity: Identity | None,
    *,
    birth_name: str | None,
    first_name: str | None,
    sex: str | None,
    birth_date: dt.date | None,
) -> list[dict[str, Any]]:
    """Diff rows comparing the applicant with the identity a source returned.

    Only fields present on both sides are compared. A source's name matches the birth name or
    the usage name (schools may record either); given names follow ``first_name_matches``.
    """
    if identity is None:
        return []
    rows = []
    if birth_name is not None and identity.birth_name:
        candidates = [identity.birth_name, identity.usage_name]
        matched = next(
            (name for name in candidates if name and names_match([name], birth_name)), ""
        )
        rows.append(row("birth_name", matched or identity.birth_name, birth_name, bool(matched)))
    if first_name is not None and identity.first_names:
        rows.append(
            row(
                "first_names",
                identity.first_names,
                first_name,
                first_name_matches(identity.first_names, first_name),
            )
        )
    if sex is not None and identity.sex:
        rows.append(row("sex", identity.sex.upper(), sex, identity.sex.strip().upper() == sex))
    if birth_date is not None and identity.birth_date is not None:
        rows.append(
            row("birth_date", identity.birth_date, birth_date, identity.birth_date == birth_date)
        )
    return rows
