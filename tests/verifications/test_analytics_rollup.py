"""The analytics rollup (verifications/services/analytics_rollup.py): on generated data, the
figures read from the rollup and the live tail equal the figures counted from the requests
themselves (the page's queries before the rollup, kept here as the reference), for every period
and kind: before any roll, after rolls that move the watermark, with answers on both sides of
it, after an erasure, and after a rebuild."""

import random
import statistics
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from admissions.enums import Role
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.html import region
from verifications import analytics
from verifications.enums import PERSON_TRIGGERS, ClaimKind, RequestState, Verdict
from verifications.models import AnalyticsDay, AnalyticsRollup, VerificationRequest
from verifications.services.analytics_rollup import (
    analytics_rollup_institution,
    analytics_rollup_rebuild,
    analytics_rollup_tick,
    rollup_until,
)
from verifications.services.retention import applicant_erase


pytestmark = pytest.mark.django_db

# Delays that each fall in a bucket of their own: the histogram reads them exactly.
DISTINCT_DELAYS = (0.5, 1.0, 2.0, 3.0, 7.0, 20.0, 45.0, 130.0, 600.0, 4000.0, 90_000.0)
VERDICTS = list(Verdict)
REASONS = [
    ("source.unavailable", {"code": "30999", "status": 502}),
    ("source.unavailable", {"code": "30002", "status": 504}),
    ("source.down", {}),
    ("scolarite.not_found", {"code": "30003", "status": 404}),
    ("identity.mismatch", {"field": "date_naissance"}),
    ("", {}),
]


# --- The reference: the page's queries before the rollup ---------------------------------------


def reference_answers(scope):
    answers = VerificationRequest.objects.filter(
        institution_id=scope.institution_id,
        state=RequestState.DONE,
        variant_key="",
        finished_at__gte=scope.since,
    ).exclude(trigger__in=PERSON_TRIGGERS)
    if scope.kind:
        answers = answers.filter(claim__kind=scope.kind)
    return answers


def reference_first(scope):
    firsts = (
        VerificationRequest.objects.filter(
            institution_id=scope.institution_id, state=RequestState.DONE, variant_key=""
        )
        .exclude(trigger__in=PERSON_TRIGGERS)
        .values("claim_id")
        .annotate(first=Min("id"))
        .values("first")
    )
    rows = (
        reference_answers(scope)
        .filter(pk__in=firsts)
        .values("claim__kind")
        .annotate(checked=Count("id"), confirmed=Count("id", filter=Q(verdict=Verdict.CONFIRMED)))
    )
    found = {row["claim__kind"]: row for row in rows}
    return [(k, found[k]["checked"], found[k]["confirmed"]) for k in ClaimKind if k in found]


def reference_delays(scope):
    by_kind = {}
    rows = reference_answers(scope).values_list("claim__kind", "created_at", "finished_at")
    for kind, created, finished in rows:
        by_kind.setdefault(kind, []).append((finished - created).total_seconds())
    return [
        (kind, len(v), statistics.median(v), analytics._percentile(sorted(v), 0.9))
        for kind in ClaimKind
        if (v := by_kind.get(kind))
    ]


def reference_weeks(scope):
    rows = (
        reference_answers(scope)
        .annotate(week=TruncWeek("finished_at"))
        .values("week", "verdict")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    weeks = {}
    for row in rows:
        weeks.setdefault(row["week"], {})[row["verdict"]] = row["n"]
    return list(weeks.items())


def reference_reasons(scope):
    rows = (
        reference_answers(scope)
        .filter(verdict__in=analytics.EXPLAINED_VERDICTS)
        .values("source", "verdict", "reason_code", "reason_params__code", "reason_params__status")
        .annotate(n=Count("id"))
    )
    counts = {}
    for row in rows:
        error = analytics._is_provider_error(row["reason_code"])
        code, status = row["reason_params__code"], row["reason_params__status"]
        key = (
            row["source"],
            row["verdict"],
            row["reason_code"],
            str(code) if error and code is not None else "",
            str(status) if error and status is not None else "",
        )
        counts[key] = counts.get(key, 0) + row["n"]
    ordered = sorted(counts.items(), key=lambda item: (item[0][0], item[0][1], -item[1], item[0]))
    kept, reasons = {}, []
    for key, n in ordered:
        if kept.get(key[:2], 0) >= analytics.TOP_REASONS:
            continue
        kept[key[:2]] = kept.get(key[:2], 0) + 1
        reasons.append((*key, n))
    return reasons


def assert_same_figures(institution, *, exact_delays=True):
    for days in analytics.PERIODS:
        for kind in ["", *ClaimKind]:
            scope = analytics.Scope.last_days(institution.pk, days, kind)
            found = analytics.answers(scope)
            where = (days, kind)
            assert [(s.kind, s.checked, s.confirmed) for s in found.first] == reference_first(
                scope
            ), where
            assert [(w.start, w.counts) for w in found.weeks] == reference_weeks(scope), where
            assert [
                (r.source, r.verdict, r.reason_code, r.error_code, r.error_status, r.count)
                for r in found.reasons
            ] == reference_reasons(scope), where
            delays = [(d.kind, d.checks, d.median_seconds, d.p90_seconds) for d in found.delays]
            expected = reference_delays(scope)
            if exact_delays:
                assert delays == expected, where
            else:
                assert [d[:2] for d in delays] == [e[:2] for e in expected], where
                for got, want in zip(delays, expected, strict=True):
                    for g, w in zip(got[2:], want[2:], strict=True):
                        assert g == pytest.approx(w, rel=analytics.DELAY_RESOLUTION_PERCENT / 100)


# --- Generated data ----------------------------------------------------------------------------


def later_answer(claim, rng, *, within_days):
    """A new answer of the claim, after its last one (a question's checks follow each other)."""
    last = claim.requests.order_by("-finished_at").values_list("finished_at", flat=True).first()
    earliest = max(last, timezone.now() - timedelta(days=within_days))
    span = (timezone.now() - earliest).total_seconds()
    return answer(claim, rng, finished=earliest + timedelta(seconds=rng.uniform(1, span - 1)))


def answer(claim, rng, *, finished, delays=DISTINCT_DELAYS, **fields):
    """A finished request of the claim: random verdict, reason, trigger (sometimes a person's)
    and variant."""
    verdict = fields.pop("verdict", rng.choice(VERDICTS))
    reason_code, params = rng.choice(REASONS)
    request = VerificationRequest.objects.create(
        institution_id=claim.institution_id,
        claim=claim,
        source=ClaimKind(claim.kind).source,
        trigger=fields.pop("trigger", rng.choice(["batch", "manual", "scheduled", "on_record"])),
        state=RequestState.DONE,
        verdict=verdict,
        reason_code=reason_code,
        reason_params=params,
        **fields,
    )
    delay = rng.choice(delays) if isinstance(delays, tuple) else rng.uniform(*delays)
    VerificationRequest.objects.filter(pk=request.pk).update(
        created_at=finished - timedelta(seconds=delay), finished_at=finished
    )
    return request


def generate(institution, rng, *, claims=24, per_claim=4, delays=DISTINCT_DELAYS):
    """Claims of every kind with answers over the last 400 days, in order (a question has one
    open request at a time), some at the edges of days, some of a person or a variant, and one
    left open."""
    now = timezone.now()
    made = []
    for n in range(claims):
        claim = ClaimFactory(
            applicant=ApplicantFactory(institution=institution), kind=list(ClaimKind)[n % 4]
        )
        moments = sorted(now - timedelta(days=rng.uniform(0, 400)) for _ in range(per_claim))
        for i, moment in enumerate(moments):
            if i == 1:  # just after a midnight, as a day's first answers are
                midnight = timezone.localtime(moment).replace(hour=0, minute=0, second=1)
                moment = max(midnight, moments[0] + timedelta(seconds=1))
            fields = {}
            if rng.random() < 0.1:
                fields["trigger"] = rng.choice(PERSON_TRIGGERS)
            elif rng.random() < 0.1:
                fields["variant_key"] = "v1"
            made.append(answer(claim, rng, finished=moment, delays=delays, **fields))
        if n == 0:
            VerificationRequest.objects.create(
                institution=institution,
                claim=claim,
                source=ClaimKind(claim.kind).source,
                trigger="batch",
            )
    return made


@pytest.fixture
def institution():
    return InstitutionFactory()


def test_the_rollup_and_its_live_tail_count_what_the_requests_count(institution):
    rng = random.Random(17)
    generate(institution, rng)
    generate(InstitutionFactory(), rng, claims=4)  # another institution: never counted
    assert_same_figures(institution)  # nothing rolled: all counted live

    now = timezone.now()
    analytics_rollup_institution(institution_id=institution.pk, now=now - timedelta(days=40))
    state = AnalyticsRollup.objects.get(institution=institution)
    assert state.rolled_until == rollup_until(now - timedelta(days=40))
    assert AnalyticsDay.objects.filter(institution=institution).exists()
    assert not AnalyticsDay.objects.filter(institution=institution, day__gte=state.rolled_until)
    assert_same_figures(institution)  # watermark 40 days ago: 7 and 30 days all live

    # Answers finished since, on both sides of where the watermark will move, and a later
    # check of claims already counted (no longer their first).
    claims = list({r.claim for r in VerificationRequest.objects.filter(institution=institution)})
    for claim in claims[:6]:
        if not claim.requests.filter(state="pending").exists():
            later_answer(claim, rng, within_days=30)
    analytics_rollup_institution(institution_id=institution.pk, now=now)
    assert AnalyticsRollup.objects.get(institution=institution).rolled_until == rollup_until(now)
    assert_same_figures(institution)

    # Today's answers, after the roll: from the live tail.
    for claim in claims[6:9]:
        if not claim.requests.filter(state="pending").exists():
            answer(claim, rng, finished=timezone.now() - timedelta(seconds=5))
    assert_same_figures(institution)

    # Incremental rolls and a rebuild write the same rows.
    incremental = sorted(
        AnalyticsDay.objects.filter(institution=institution).values_list(
            "day", "kind", "source", "verdicts", "first_checked", "first_confirmed", "delays"
        )
    )
    analytics_rollup_rebuild(institution_id=institution.pk, now=now)
    assert (
        sorted(
            AnalyticsDay.objects.filter(institution=institution).values_list(
                "day", "kind", "source", "verdicts", "first_checked", "first_confirmed", "delays"
            )
        )
        == incremental
    )


def test_an_erasure_counts_its_days_again(institution):
    rng = random.Random(5)
    requests = generate(institution, rng, claims=12)
    analytics_rollup_institution(institution_id=institution.pk)
    erased = next(
        r.claim.applicant
        for r in requests
        if r.claim.requests.filter(state="done").count() > 2
        and not r.claim.requests.filter(state="pending").exists()
    )
    supervisor = UserFactory(institution=institution, role=Role.SUPERVISOR)
    applicant_erase(applicant=erased, acting_user=supervisor, justification="demande du candidat")
    assert_same_figures(institution)


def test_delays_of_any_value_are_read_within_the_histogram_s_resolution(institution):
    rng = random.Random(3)
    generate(institution, rng, claims=16, per_claim=6, delays=(0.2, 5000.0))
    analytics_rollup_institution(
        institution_id=institution.pk, now=timezone.now() - timedelta(days=100)
    )
    assert_same_figures(institution, exact_delays=False)


def test_the_beat_tick_rolls_the_institutions_behind_and_nothing_twice(institution):
    rng = random.Random(11)
    generate(institution, rng, claims=4)
    other = InstitutionFactory()
    now = timezone.now()
    assert analytics_rollup_tick(now=now) == {
        institution.pk: AnalyticsDay.objects.filter(institution=institution).count(),
        other.pk: 0,
    }
    assert analytics_rollup_tick(now=now) == {}
    tomorrow = now + timedelta(days=1)
    assert set(analytics_rollup_tick(now=tomorrow)) == {institution.pk, other.pk}
    assert AnalyticsRollup.objects.get(institution=other).rolled_until == rollup_until(tomorrow)


def test_the_command_rebuilds_and_the_page_reads_the_rollup(client, institution):
    rng = random.Random(23)
    generate(institution, rng, claims=8)
    call_command("analytics_rollup", "--rebuild", "--institution", str(institution.pk))
    assert AnalyticsRollup.objects.get(institution=institution).rolled_until == rollup_until(
        timezone.now()
    )
    assert_same_figures(institution)
    client.force_login(UserFactory(institution=institution, role=Role.SUPERVISOR))
    page = client.get(reverse("analytics"), {"jours": 365})
    assert page.status_code == 200
    delays = region(page.text, "analytics-delays")
    assert "12 %" in delays  # the histogram's resolution, said under the table
