"""Scheduled re-verification and retention: the defaults and the pure rules.

No ORM here: policies come in as plain values (a ``FreshnessPolicy`` row has the attributes
``recheck_cutoff`` reads), and ``now`` is always given.

**How a policy relates to ``Claim.valid_until``.** The pipeline sets ``valid_until`` from the
verdict itself (``verifications.verdicts``): an ``unavailable`` answer is stale after an hour, a
scolarité ``confirmed`` at the end of the school year, a covoiturage answer never. That is what
the *source's data* says. A freshness policy is what the *institution* wants on top: a claim is
due for a scheduled re-check when either its ``valid_until`` has passed, or it was last checked
before the policy's cut-off. A disabled policy ("jamais") turns both off for that kind: the
scheduler leaves it alone, a clerk can still click "Vérifier".

Defaults (created on first use, editable by the institution admin):

* scolarité: weekly while applications are open (15 January to 31 October: Parcoursup and
  the admissions calendar, plus October's "constat de rentrée" for private schools), and
  everything checked before 8 September again (the school year has started, secondary-school
  data are refreshed nightly: docs/api/api-particulier.md §Freshness and coverage);
* CVEC: when the campaign changes (1 September, the academic year the CVEC answers for:
  docs/api/cvec.md §Freshness and campaigns) and on enrolment day (15 September by default: set
  your own);
* certifications: monthly (the repertoires change slowly, archiving happens on fixed dates);
* covoiturage: never (an attestation is frozen once created).

The night window (22:00 to 06:00, Europe/Paris) and the share of each source's rate (50 %)
keep re-checks away from the clerks' daytime work. Retention: raw evidence 12 months (one
admissions cycle and the two months of appeal against a decision, within the CNIL's 6–12 months
for logs; the verdict, its reason, the diff and the evidence's hash are kept), audit events
36 months (API Particulier's traceability requirement).
"""

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from verifications.beat_ticks import RECHECK_TICK_SECONDS as RECHECK_TICK_SECONDS
from verifications.enums import ClaimKind


DEFAULT_NIGHT_START = dt.time(22, 0)
DEFAULT_NIGHT_END = dt.time(6, 0)
DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_SCHEDULED_SHARE = 50
DEFAULT_EVIDENCE_RETENTION_MONTHS = 12
DEFAULT_AUDIT_RETENTION_MONTHS = 36
# API Particulier asks that queries be traceable for 36 months: the audit trail may not be
# kept for less. Evidence may be purged as early as one month.
MIN_AUDIT_RETENTION_MONTHS = 36
MIN_EVIDENCE_RETENTION_MONTHS = 1
MAX_RETENTION_MONTHS = 120
# French time zones an institution may be in (metropolitan France and the DROM-COM).
TIMEZONES = (
    "Europe/Paris",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "America/Miquelon",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Wallis",
)
# The academic year (and the CVEC campaign) turns on 1 September.
CAMPAIGN_START = (9, 1)


@dataclass(frozen=True)
class PolicyDefaults:
    enabled: bool
    interval_days: int | None = None
    active_from: str = ""
    active_until: str = ""
    recheck_on: str = ""
    recheck_on_campaign_change: bool = False


DEFAULT_POLICIES: dict[str, PolicyDefaults] = {
    ClaimKind.SCOLARITE: PolicyDefaults(
        enabled=True,
        interval_days=7,
        active_from="01-15",
        active_until="10-31",
        recheck_on="09-08",
    ),
    ClaimKind.CVEC: PolicyDefaults(
        enabled=True, recheck_on="09-15", recheck_on_campaign_change=True
    ),
    ClaimKind.CERTIFICATION: PolicyDefaults(enabled=True, interval_days=30),
    ClaimKind.COVOITURAGE: PolicyDefaults(enabled=False),
}


class FreshnessRules(Protocol):
    enabled: bool
    interval_days: int | None
    active_from: str
    active_until: str
    recheck_on: str
    recheck_on_campaign_change: bool


def parse_month_day(value: str) -> tuple[int, int]:
    """ "MM-DD" -> (month, day); ValueError if it is not a real day of a leap year."""
    month, day = (int(part) for part in value.split("-"))
    dt.date(2024, month, day)  # 29 February is allowed
    return month, day


def _on(year: int, month_day: tuple[int, int], zone: ZoneInfo) -> dt.datetime:
    month, day = month_day
    if (month, day) == (2, 29):
        try:
            dt.date(year, 2, 29)
        except ValueError:
            day = 28
    return dt.datetime(year, month, day, tzinfo=zone)


def last_occurrence(month_day: tuple[int, int], now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Midnight (local) of the latest ``month_day`` at or before ``now``."""
    here = now.astimezone(zone)
    this_year = _on(here.year, month_day, zone)
    return this_year if this_year <= here else _on(here.year - 1, month_day, zone)


def in_period(today: dt.date, start: str, end: str) -> bool:
    """Whether ``today`` is within [start, end] (days of the year; may wrap over 1 January).
    Blank bounds mean the whole year."""
    if not start or not end:
        return True
    key = (today.month, today.day)
    first, last = parse_month_day(start), parse_month_day(end)
    if first <= last:
        return first <= key <= last
    return key >= first or key <= last


def recheck_cutoff(policy: FreshnessRules, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """Claims last checked before this instant are due (besides an expired ``valid_until``);
    ``None`` when the policy asks for nothing at ``now``."""
    if not policy.enabled:
        return None
    cutoffs = []
    if policy.interval_days and in_period(
        now.astimezone(zone).date(), policy.active_from, policy.active_until
    ):
        cutoffs.append(now - dt.timedelta(days=policy.interval_days))
    if policy.recheck_on:
        cutoffs.append(last_occurrence(parse_month_day(policy.recheck_on), now, zone))
    if policy.recheck_on_campaign_change:
        cutoffs.append(last_occurrence(CAMPAIGN_START, now, zone))
    return max(cutoffs, default=None)


def in_night_window(now: dt.datetime, start: dt.time, end: dt.time, zone: ZoneInfo) -> bool:
    """Whether ``now`` is inside [start, end) in local time; the window may span midnight."""
    local = now.astimezone(zone).time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def scheduled_budget(*, rate_per_second: float, share_percent: int, seconds: float) -> int:
    """How many re-checks of one source one tick may queue: ``share`` of what the source
    allows over the tick's interval."""
    return max(0, math.floor(rate_per_second * seconds * share_percent / 100))


def spacing(*, rate_per_second: float, share_percent: int) -> float:
    """Seconds between two scheduled re-checks of a source, so that they use no more than
    their share of its rate within the tick too, not only over it."""
    allowed = rate_per_second * share_percent / 100
    return 1.0 / allowed if allowed > 0 else 0.0


def months_before(now: dt.datetime, months: int) -> dt.datetime:
    """``now`` minus whole calendar months (the day clamped to the month's length)."""
    total = now.year * 12 + (now.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for day in (now.day, 30, 29, 28):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# Days before a token's expiry when the institution admin is warned.
EXPIRY_WARNING_DAYS = (90, 60, 30, 15)


def expiry_threshold(expires_at: dt.datetime, now: dt.datetime) -> int | None:
    """The smallest warning threshold already reached (``None`` if more than 90 days remain).
    An expired token gives 0."""
    if expires_at <= now:
        return 0
    remaining = expires_at - now
    reached = [days for days in EXPIRY_WARNING_DAYS if remaining <= dt.timedelta(days=days)]
    return min(reached, default=None)


def evidence_digest(evidence: dict) -> str:
    """SHA-256 of the evidence in canonical JSON (sorted keys, no spaces): kept when the
    evidence itself is purged. Empty evidence has no digest."""
    if not evidence:
        return ""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
