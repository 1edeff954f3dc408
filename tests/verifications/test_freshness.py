"""The pure rules of scheduled re-verification and retention, at their boundaries."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from admissions.infra.tokens import jwt_expiry
from sandbox.tokens import make_token
from verifications import freshness
from verifications.enums import ClaimKind


PARIS = ZoneInfo("Europe/Paris")
START, END = dt.time(22, 0), dt.time(6, 0)


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


def rules(kind: str, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(freshness.DEFAULT_POLICIES[kind]), **changes})


# --- Night window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (paris(2026, 11, 23, 21, 59, 59), False),
        (paris(2026, 11, 23, 22, 0, 0), True),
        (paris(2026, 11, 24, 0, 30), True),
        (paris(2026, 11, 24, 5, 59, 59), True),
        (paris(2026, 11, 24, 6, 0, 0), False),
        (paris(2026, 11, 24, 12, 0), False),
    ],
)
def test_night_window_edges_span_midnight(when, inside):
    assert freshness.in_night_window(when, START, END, PARIS) is inside


def test_night_window_is_read_in_the_institutions_time_zone():
    # 22:30 in Paris is 17:30 in Guadeloupe (UTC-4 vs UTC+1 in November).
    when = paris(2026, 11, 23, 22, 30)
    assert freshness.in_night_window(when, START, END, PARIS)
    assert not freshness.in_night_window(when, START, END, ZoneInfo("America/Guadeloupe"))


def test_a_daytime_window_and_an_empty_one():
    assert freshness.in_night_window(paris(2026, 1, 1, 13), dt.time(12), dt.time(14), PARIS)
    assert not freshness.in_night_window(paris(2026, 1, 1, 14), dt.time(12), dt.time(14), PARIS)
    assert not freshness.in_night_window(paris(2026, 1, 1, 12), dt.time(12), dt.time(12), PARIS)


# --- Budget -----------------------------------------------------------------------------------


def test_budget_is_the_share_of_the_rate_over_the_tick():
    assert freshness.scheduled_budget(rate_per_second=20, share_percent=50, seconds=300) == 3000
    assert freshness.scheduled_budget(rate_per_second=10 / 3, share_percent=1, seconds=300) == 10
    assert freshness.scheduled_budget(rate_per_second=0.1, share_percent=1, seconds=300) == 0
    assert freshness.spacing(rate_per_second=20, share_percent=50) == pytest.approx(0.1)


# --- Each policy's due date ---------------------------------------------------------------------


def test_scolarite_weekly_while_applications_are_open():
    policy = rules(ClaimKind.SCOLARITE)
    now = paris(2027, 3, 10, 23)
    assert freshness.recheck_cutoff(policy, now, PARIS) == now - dt.timedelta(days=7)


def test_scolarite_outside_the_application_period_only_the_start_of_the_school_year():
    policy = rules(ClaimKind.SCOLARITE)
    now = paris(2026, 12, 10, 23)  # after 31 October: no weekly re-check
    assert freshness.recheck_cutoff(policy, now, PARIS) == paris(2026, 9, 8)


@pytest.mark.parametrize(
    ("now", "cutoff"),
    [
        # The day before the start-of-year date: last year's applies.
        (paris(2026, 9, 7, 23, 59), paris(2025, 9, 8)),
        # From midnight on 8 September, everything checked before is due.
        (paris(2026, 9, 8, 0, 0), paris(2026, 9, 8)),
    ],
)
def test_scolarite_start_of_school_year_boundary(now, cutoff):
    policy = rules(ClaimKind.SCOLARITE, interval_days=None)
    assert freshness.recheck_cutoff(policy, now, PARIS) == cutoff


@pytest.mark.parametrize(
    ("now", "cutoff"),
    [
        (paris(2026, 8, 31, 23, 59), paris(2025, 9, 15)),
        (paris(2026, 9, 1, 0, 0), paris(2026, 9, 1)),  # the campaign changes
        (paris(2026, 9, 14, 23, 59), paris(2026, 9, 1)),
        (paris(2026, 9, 15, 0, 0), paris(2026, 9, 15)),  # enrolment day
    ],
)
def test_cvec_on_campaign_change_and_on_enrolment_day(now, cutoff):
    assert freshness.recheck_cutoff(rules(ClaimKind.CVEC), now, PARIS) == cutoff


def test_certifications_monthly_and_covoiturage_never():
    now = paris(2026, 11, 23, 23)
    cutoff = freshness.recheck_cutoff(rules(ClaimKind.CERTIFICATION), now, PARIS)
    assert cutoff == now - dt.timedelta(days=30)
    assert freshness.recheck_cutoff(rules(ClaimKind.COVOITURAGE), now, PARIS) is None
    disabled = rules(ClaimKind.CERTIFICATION, enabled=False)
    assert freshness.recheck_cutoff(disabled, now, PARIS) is None


def test_a_period_may_wrap_over_new_year():
    assert freshness.in_period(dt.date(2026, 12, 31), "10-01", "03-31")
    assert freshness.in_period(dt.date(2027, 3, 31), "10-01", "03-31")
    assert not freshness.in_period(dt.date(2027, 4, 1), "10-01", "03-31")
    assert freshness.in_period(dt.date(2027, 4, 1), "", "")


def test_29_february_falls_on_the_28th_in_other_years():
    assert freshness.last_occurrence((2, 29), paris(2027, 3, 1), PARIS) == paris(2027, 2, 28)
    assert freshness.last_occurrence((2, 29), paris(2028, 3, 1), PARIS) == paris(2028, 2, 29)


# --- Retention arithmetic -----------------------------------------------------------------------


def test_months_before_clamps_the_day():
    assert freshness.months_before(paris(2027, 3, 31, 4), 1) == paris(2027, 2, 28, 4)
    assert freshness.months_before(paris(2027, 11, 23, 4), 12) == paris(2026, 11, 23, 4)
    assert freshness.months_before(paris(2029, 11, 23), 36) == paris(2026, 11, 23)


def test_evidence_digest_is_canonical():
    assert freshness.evidence_digest({}) == ""
    assert freshness.evidence_digest({"a": 1, "b": "é"}) == freshness.evidence_digest(
        {"b": "é", "a": 1}
    )
    assert len(freshness.evidence_digest({"a": 1})) == 64


# --- Token expiry -------------------------------------------------------------------------------


def test_jwt_expiry_is_read_without_checking_the_signature():
    token = make_token("x", scopes=[], exp=1893456000)  # 2030-01-01T00:00:00Z
    assert jwt_expiry(token) == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    # Another signature changes nothing: it is never checked.
    assert jwt_expiry(token.rsplit(".", 1)[0] + ".forged") == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b.c", "a.!!!.c", "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.sig", "a.bnVsbA.c"],
)
def test_tokens_without_a_usable_exp_have_no_expiry(token):
    assert jwt_expiry(token) is None


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [
        (dt.timedelta(days=90, seconds=1), None),
        (dt.timedelta(days=90), 90),
        (dt.timedelta(days=60, seconds=1), 90),
        (dt.timedelta(days=60), 60),
        (dt.timedelta(days=30), 30),
        (dt.timedelta(days=15, seconds=1), 30),
        (dt.timedelta(days=15), 15),
        (dt.timedelta(seconds=1), 15),
        (dt.timedelta(0), 0),
    ],
)
def test_expiry_thresholds(days_left, threshold):
    now = paris(2026, 11, 23, 7)
    assert freshness.expiry_threshold(now + days_left, now) == threshold
