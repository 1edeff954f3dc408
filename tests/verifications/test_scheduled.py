"""The re-verification tick, with time-machine: it queues what is due, only at night, within
its share of each source's rate, never twice, and never covoiturage by default."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.audit import audit_chains_verify
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory
from verifications.enums import ClaimKind, RequestState, Source, Trigger, Verdict
from verifications.models import Claim, InstitutionPolicy, VerificationRequest
from verifications.services.policies import freshness_policies_get, institution_policy_get
from verifications.services.scheduled import scheduled_reverification_tick


pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NIGHT = dt.datetime(2027, 3, 10, 23, 0, tzinfo=PARIS)
DAY = dt.datetime(2027, 3, 10, 14, 0, tzinfo=PARIS)


@pytest.fixture
def institution():
    return InstitutionFactory()


def checked_claim(institution, kind, *, verified_at, verdict=Verdict.CONFIRMED, **extra):
    declared = {
        ClaimKind.SCOLARITE: {"uai": "0132733A", "school_year": 2026},
        ClaimKind.CVEC: {"code": "CVEC2026X", "campaign": 2026},
        ClaimKind.CERTIFICATION: {"code": "RNCP12345", "min_level": None},
        ClaimKind.COVOITURAGE: {"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
    }[kind]
    return ClaimFactory(
        applicant=ApplicantFactory(institution=institution),
        kind=kind,
        declared=extra.pop("declared", declared),
        verdict=verdict,
        verified_at=verified_at,
        **extra,
    )


def scheduled():
    return VerificationRequest.objects.filter(trigger=Trigger.SCHEDULED)


def test_policies_and_settings_are_created_with_the_defaults(institution):
    policy = institution_policy_get(institution)
    assert (policy.night_start, policy.night_end) == (dt.time(22), dt.time(6))
    assert policy.timezone == "Europe/Paris"
    assert policy.scheduled_share == 50
    assert (policy.evidence_retention_months, policy.audit_retention_months) == (12, 36)
    policies = freshness_policies_get(institution)
    assert list(policies) == [k.value for k in ClaimKind]
    assert policies[ClaimKind.SCOLARITE].interval_days == 7
    assert policies[ClaimKind.CVEC].recheck_on_campaign_change
    assert policies[ClaimKind.CERTIFICATION].interval_days == 30
    assert not policies[ClaimKind.COVOITURAGE].enabled
    assert institution_policy_get(institution).pk == policy.pk  # created once


def test_due_claims_are_queued_at_night_only(institution):
    claim = checked_claim(
        institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=31)
    )
    with time_machine.travel(DAY, tick=False):
        report = scheduled_reverification_tick()
    assert report.outside_window == [institution.pk]
    assert not scheduled().exists()

    with time_machine.travel(NIGHT, tick=False):
        report = scheduled_reverification_tick()
    assert report.queued == {Source.CERTIFINFO: 1}
    request = scheduled().get()
    assert request.claim_id == claim.pk
    assert request.state == RequestState.PENDING
    assert request.requested_by is None
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert event.actor_label == "scheduled"
    assert event.details["trigger"] == Trigger.SCHEDULED


@pytest.mark.parametrize(
    ("local_time", "queued"),
    [((21, 59), 0), ((22, 0), 1), ((5, 59), 1), ((6, 0), 0)],
)
def test_night_window_edges(institution, local_time, queued):
    checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=40))
    when = dt.datetime(2027, 3, 11, *local_time, tzinfo=PARIS)
    with time_machine.travel(when, tick=False):
        scheduled_reverification_tick()
    assert scheduled().count() == queued


def test_certification_is_due_thirty_days_after_its_check(institution):
    fresh = checked_claim(
        institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=30, hours=-1)
    )
    stale = checked_claim(
        institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=30, hours=1)
    )
    with time_machine.travel(NIGHT, tick=False):
        scheduled_reverification_tick()
    assert set(scheduled().values_list("claim_id", flat=True)) == {stale.pk}
    assert fresh.requests.count() == 0


def test_an_expired_valid_until_is_due_whatever_the_policy(institution):
    # Checked yesterday (the weekly policy is not due), but the verdict itself expired.
    claim = checked_claim(
        institution,
        ClaimKind.SCOLARITE,
        verified_at=NIGHT - dt.timedelta(days=1),
        verdict=Verdict.UNAVAILABLE,
        valid_until=NIGHT - dt.timedelta(minutes=1),
    )
    not_yet = checked_claim(
        institution,
        ClaimKind.SCOLARITE,
        verified_at=NIGHT - dt.timedelta(days=1),
        valid_until=NIGHT + dt.timedelta(minutes=1),
    )
    with time_machine.travel(NIGHT, tick=False):
        scheduled_reverification_tick()
    assert list(scheduled().values_list("claim_id", flat=True)) == [claim.pk]
    assert not not_yet.requests.exists()


def test_cvec_is_due_when_the_campaign_changes(institution):
    claim = checked_claim(
        institution, ClaimKind.CVEC, verified_at=dt.datetime(2027, 8, 20, tzinfo=PARIS)
    )
    with time_machine.travel(dt.datetime(2027, 8, 31, 23, 30, tzinfo=PARIS), tick=False):
        scheduled_reverification_tick()
    assert not scheduled().exists()
    with time_machine.travel(dt.datetime(2027, 9, 1, 0, 30, tzinfo=PARIS), tick=False):
        scheduled_reverification_tick()
    assert list(scheduled().values_list("claim_id", flat=True)) == [claim.pk]


def test_covoiturage_is_never_rechecked_by_default(institution):
    checked_claim(
        institution,
        ClaimKind.COVOITURAGE,
        verified_at=NIGHT - dt.timedelta(days=400),
        valid_until=NIGHT - dt.timedelta(days=1),
    )
    with time_machine.travel(NIGHT, tick=False):
        report = scheduled_reverification_tick()
    assert report.queued == {}
    assert not scheduled().exists()


def test_what_waits_for_a_person_or_is_history_is_left_alone(institution):
    old = NIGHT - dt.timedelta(days=60)
    checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=old, verdict=Verdict.REJECTED)
    checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=old, verdict=Verdict.MANUAL)
    checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=None, verdict="")
    overridden = checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=old)
    VerificationRequest.objects.create(
        institution=institution,
        claim=overridden,
        source=Source.CERTIFINFO,
        trigger=Trigger.OVERRIDE,
        state=RequestState.DONE,
        verdict=Verdict.CONFIRMED,
    )
    # A school year that is over: its answer no longer changes.
    checked_claim(
        institution,
        ClaimKind.SCOLARITE,
        verified_at=old,
        declared={"uai": "0132733A", "school_year": 2025},
    )
    with time_machine.travel(NIGHT, tick=False):
        scheduled_reverification_tick()
    assert not scheduled().exists()


def test_a_disabled_source_is_not_rechecked(institution):
    institution.enabled_sources = [Source.API_PARTICULIER]
    institution.save(update_fields=["enabled_sources"])
    checked_claim(institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=60))
    with time_machine.travel(NIGHT, tick=False):
        scheduled_reverification_tick()
    assert not scheduled().exists()


def test_the_share_of_the_source_rate_bounds_each_tick_and_the_backlog(institution):
    # Certif Info is limited to 200/min (3.33/s): at 1 %, 10 re-checks per 5-minute tick.
    InstitutionPolicy.objects.filter(pk=institution_policy_get(institution).pk).update(
        scheduled_share=1
    )
    claims = [
        checked_claim(
            institution,
            ClaimKind.CERTIFICATION,
            verified_at=NIGHT - dt.timedelta(days=40, minutes=i),
        )
        for i in range(15)
    ]
    with time_machine.travel(NIGHT, tick=False):
        report = scheduled_reverification_tick()
        assert report.queued == {Source.CERTIFINFO: 10}
        # Oldest checks first, spaced at 1 % of 3.33/s: one every 30 s.
        rows = list(scheduled().order_by("not_before"))
        assert [r.claim_id for r in rows] == [c.pk for c in reversed(claims)][:10]
        gaps = {(b.not_before - a.not_before).total_seconds() for a, b in itertools.pairwise(rows)}
        assert gaps == {30.0}

        # Idempotent: the next tick finds the first ten still open and adds nothing.
        assert scheduled_reverification_tick().queued == {}
        assert scheduled().count() == 10

    # The workers check them: done, the claims verified now.
    Claim.objects.filter(requests__in=scheduled()).update(verified_at=NIGHT)
    scheduled().update(state=RequestState.DONE, verdict=Verdict.CONFIRMED)
    with time_machine.travel(NIGHT + dt.timedelta(minutes=5), tick=False):
        assert scheduled_reverification_tick().queued == {Source.CERTIFINFO: 5}
    assert scheduled().values("claim_id").distinct().count() == 15
    assert all(not r.breaks for r in audit_chains_verify())


def test_institutions_share_one_budget_per_source(institution):
    other = InstitutionFactory()
    for inst in (institution, other):
        InstitutionPolicy.objects.filter(pk=institution_policy_get(inst).pk).update(
            scheduled_share=1
        )
        for i in range(8):
            checked_claim(
                inst, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=40, minutes=i)
            )
    with time_machine.travel(NIGHT, tick=False):
        report = scheduled_reverification_tick()
    assert report.queued == {Source.CERTIFINFO: 10}
    assert scheduled().filter(institution=institution).count() == 8
    assert scheduled().filter(institution=other).count() == 2


def test_a_claim_with_an_open_request_is_never_queued_again(institution):
    claim = checked_claim(
        institution, ClaimKind.CERTIFICATION, verified_at=NIGHT - dt.timedelta(days=40)
    )
    VerificationRequest.objects.create(
        institution=institution,
        claim=claim,
        source=Source.CERTIFINFO,
        trigger=Trigger.MANUAL,
        state=RequestState.RUNNING,
    )
    with time_machine.travel(NIGHT, tick=False):
        scheduled_reverification_tick()
    assert not scheduled().exists()


def test_beat_runs_the_ticks():
    from admissions.celery import app
    from verifications import freshness

    app.loader.import_default_modules()  # autodiscovery, as a worker or beat does at start

    schedule = app.conf.beat_schedule
    tick = schedule["verifications-scheduled-reverification"]
    assert tick["task"] == "verifications.scheduled_reverification"
    assert tick["schedule"] == freshness.RECHECK_TICK_SECONDS
    assert schedule["verifications-retention-purge"]["task"] == "verifications.retention_purge"
    assert (
        schedule["verifications-credential-expiry"]["task"]
        == "verifications.credential_expiry_check"
    )
    for entry in schedule.values():
        assert entry["task"] in app.tasks
