"""The analytics page (verifications/analytics.py): each figure from an institution's own
requests, attempts and verdict changes, for the period and kind chosen; charts with their
tables; CSV files; supervisors and admins only."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from admissions.enums import Role
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.html import region
from verifications import analytics
from verifications.enums import ClaimKind, Verdict
from verifications.models import VerdictChange, VerificationAttempt, VerificationRequest


pytestmark = pytest.mark.django_db


@pytest.fixture
def institution():
    return InstitutionFactory()


def check(institution, kind, verdict, *, seconds=2.0, days_ago=1, trigger="manual", **fields):
    claim = fields.pop("claim", None) or ClaimFactory(
        applicant=ApplicantFactory(institution=institution), kind=kind
    )
    finished = timezone.now() - timedelta(days=days_ago)
    request = VerificationRequest.objects.create(
        institution=institution,
        claim=claim,
        source=ClaimKind(kind).source,
        trigger=trigger,
        state="done",
        verdict=verdict,
        **fields,
    )
    VerificationRequest.objects.filter(pk=request.pk).update(
        created_at=finished - timedelta(seconds=seconds), finished_at=finished
    )
    request.refresh_from_db()
    return request


def test_figures_count_the_institution_s_own_checks_in_the_period(institution):
    first = check(institution, ClaimKind.SCOLARITE, Verdict.CONFIRMED, seconds=1)
    check(
        institution,
        ClaimKind.SCOLARITE,
        Verdict.NOT_FOUND,
        seconds=3,
        reason_code="scolarite.not_found",
    )
    later = check(institution, ClaimKind.SCOLARITE, Verdict.CONFIRMED, seconds=5, claim=first.claim)
    assert later.pk > first.pk
    check(institution, ClaimKind.CVEC, Verdict.CONFIRMED, seconds=10)
    check(institution, ClaimKind.CVEC, Verdict.CONFIRMED, seconds=10, days_ago=60)  # too old
    check(InstitutionFactory(), ClaimKind.CVEC, Verdict.CONTRADICTED)  # another institution
    check(institution, ClaimKind.CVEC, Verdict.CONTRADICTED, trigger="override")  # a person
    scope = analytics.Scope.last_days(institution.pk, 30)

    shares = {s.kind: (s.checked, s.confirmed) for s in analytics.first_check_confirmed(scope)}
    assert shares == {ClaimKind.SCOLARITE: (2, 1), ClaimKind.CVEC: (1, 1)}
    delays = {d.kind: (d.checks, d.median_seconds) for d in analytics.time_to_verdict(scope)}
    assert delays == {ClaimKind.SCOLARITE: (3, 3.0), ClaimKind.CVEC: (1, 10.0)}
    weeks = analytics.verdicts_by_week(scope)
    assert sum(w.counts.get(Verdict.CONFIRMED, 0) for w in weeks) == 3
    assert sum(w.total for w in weeks) == 4
    (reason,) = analytics.top_reasons(scope)
    assert (reason.source, reason.verdict, reason.reason_code, reason.count) == (
        "api_particulier",
        Verdict.NOT_FOUND,
        "scolarite.not_found",
        1,
    )
    only_cvec = analytics.Scope.last_days(institution.pk, 30, ClaimKind.CVEC)
    assert [d.kind for d in analytics.time_to_verdict(only_cvec)] == [ClaimKind.CVEC]


def test_the_90th_percentile_and_the_median():
    assert analytics._percentile(sorted(float(n) for n in range(1, 101)), 0.9) == pytest.approx(
        90.1
    )
    assert analytics._percentile([7.0], 0.9) == 7.0


def test_availability_night_changes_and_the_manual_queue(institution):
    request = check(institution, ClaimKind.SCOLARITE, Verdict.UNAVAILABLE)
    for outcome in ("unavailable", "unavailable", "answered", "answered"):
        VerificationAttempt.objects.create(request=request, source=request.source, outcome=outcome)
    before = check(institution, ClaimKind.CVEC, Verdict.CONFIRMED, days_ago=3)
    after = check(
        institution, ClaimKind.CVEC, Verdict.CONTRADICTED, trigger="scheduled", claim=before.claim
    )
    VerdictChange.objects.create(
        institution=institution,
        claim=before.claim,
        request=after,
        previous_request=before,
        previous_verdict=Verdict.CONFIRMED,
        verdict=Verdict.CONTRADICTED,
    )
    claim = request.claim
    claim.verdict = Verdict.UNAVAILABLE
    claim.verified_at = timezone.now() - timedelta(days=4)
    claim.save()
    scope = analytics.Scope.last_days(institution.pk, 30)
    (availability,) = analytics.source_availability(scope)
    assert (availability.calls, availability.unavailable, availability.percent) == (4, 2, 50.0)
    (change,) = analytics.night_changes(scope)
    assert (change.previous, change.verdict, change.count) == ("confirmed", "contradicted", 1)
    queue = analytics.manual_queue(scope)
    assert queue.claims == 1
    assert round(queue.median_age_days) == 4


def test_the_page_shows_each_figure_as_a_chart_and_its_table(client, institution):
    check(institution, ClaimKind.SCOLARITE, Verdict.CONFIRMED, seconds=90)
    check(institution, ClaimKind.SCOLARITE, Verdict.NOT_FOUND, reason_code="scolarite.not_found")
    client.force_login(UserFactory(institution=institution, role=Role.SUPERVISOR))
    page = client.get(reverse("analytics"))
    assert page.status_code == 200
    first = region(page.text, "analytics-first")
    assert 'role="img"' in first
    assert "50 %" in first  # in the chart's text and in the table: not by colour alone
    delays = region(page.text, "analytics-delays")
    assert "46 s" in delays  # the median of 2 s and 90 s
    assert "1,4 min" in delays  # their 90th percentile, 81.2 s
    reasons = region(page.text, "analytics-reasons")
    assert "Inconnu de la source" in reasons
    assert "style=" not in page.text.split("<main", 1)[1]  # strict CSP: no inline style


def test_each_figure_downloads_as_csv(client, institution):
    check(institution, ClaimKind.CVEC, Verdict.CONFIRMED)
    client.force_login(UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN))
    response = client.get(reverse("analytics_export", args=["premiere-verification"]), {"jours": 7})
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    assert rows == [
        ["Déclaration", "Vérifiées pour la première fois", "Confirmées", "Part (%)"],
        ["CVEC", "1", "1", "100"],
    ]
    assert client.get(reverse("analytics_export", args=["inconnu"])).status_code == 404


def test_clerks_do_not_see_the_analytics(client, institution):
    client.force_login(UserFactory(institution=institution, role=Role.CLERK))
    assert client.get(reverse("analytics")).status_code == 403
