"""A re-check that changes a claim's definitive verdict tells its clerk, on the dashboard and by
e-mail, through the real pipeline and the sandbox; the history keeps both verdicts."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import CvecOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import (
    claim_for,
    person_with,
    request_for,
    run_until_done,
    verdict_change_for,
)
from verifications.enums import ClaimKind, Trigger, Verdict
from verifications.models import VerdictChange, VerificationRequest
from verifications.services.scheduled import scheduled_reverification_tick


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]
PARIS = ZoneInfo("Europe/Paris")
# The sandbox's attestations are for the 2026 campaign: confirmed during 2026-2027, and a
# campaign that is no longer in progress two years later (cvec.campaign_differs, mismatch).
FIRST_CHECK = dt.datetime(2026, 11, 23, 10, tzinfo=PARIS)
TWO_YEARS_LATER = dt.datetime(2028, 9, 16, 23, 0, tzinfo=PARIS)


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def clerk(institution):
    return UserFactory(institution=institution, email="agent@example.org")


@pytest.fixture
def cvec_claim(institution):
    return claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)


def _first_check(claim, clerk, capture):
    with time_machine.travel(FIRST_CHECK), capture(execute=True):
        request = run_until_done(request_for(claim, clerk))
    assert request.verdict == Verdict.CONFIRMED
    return request


def test_a_scheduled_recheck_that_changes_the_verdict_tells_the_clerk(
    cvec_claim, clerk, client, django_capture_on_commit_callbacks
):
    first = _first_check(cvec_claim, clerk, django_capture_on_commit_callbacks)
    assert not VerdictChange.objects.exists()
    mail.outbox.clear()

    with time_machine.travel(TWO_YEARS_LATER), django_capture_on_commit_callbacks(execute=True):
        report = scheduled_reverification_tick()
        assert sum(report.queued.values()) == 1
        second = VerificationRequest.objects.get(claim=cvec_claim, trigger=Trigger.SCHEDULED)
        second = run_until_done(second)
    assert second.verdict == Verdict.MISMATCH
    assert second.reason_code == "cvec.campaign_differs"

    change = VerdictChange.objects.get()
    assert change.claim_id == cvec_claim.pk
    assert (change.previous_verdict, change.verdict) == (Verdict.CONFIRMED, Verdict.MISMATCH)
    assert (change.previous_request_id, change.request_id) == (first.pk, second.pk)
    assert change.recipient_id == clerk.pk  # who asked for the last check by hand
    # The history keeps both requests and both verdicts.
    assert list(cvec_claim.requests.order_by("created_at").values_list("verdict", flat=True)) == [
        Verdict.CONFIRMED,
        Verdict.MISMATCH,
    ]

    # One e-mail, in French, with the file reference and a link, and nothing personal.
    (message,) = mail.outbox
    assert message.to == ["agent@example.org"]
    reference = cvec_claim.applicant.file_reference
    assert reference in message.subject
    assert "Confirmé" in message.body
    assert "Identité divergente" in message.body
    assert reverse("applicant_detail", args=[cvec_claim.applicant_id]) in message.body
    applicant = cvec_claim.applicant
    for personal in (applicant.birth_name, applicant.first_names[0], applicant.ine):
        assert personal not in message.subject + message.body
    assert applicant.birth_date.strftime("%d/%m/%Y") not in message.body
    change.refresh_from_db()
    assert change.emailed_at is not None

    # The dashboard's panel, then "Vu" (HTMX) empties it.
    client.force_login(clerk)
    page = client.get(reverse("home")).text
    assert "Changements de verdict" in page
    assert f"Dossier {reference}" in page
    url = reverse("verdict_change_dismiss", args=[change.pk])
    fragment = client.post(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert 'id="verdict-changes"' in fragment.text
    assert "Aucun changement de verdict" in fragment.text
    assert "<html" not in fragment.text
    change.refresh_from_db()
    assert change.dismissed_at is not None
    seen = AuditEvent.objects.get(action=AuditAction.VIEWED, object_type="verdictchange")
    assert (seen.actor, seen.applicant_id) == (clerk, cvec_claim.applicant_id)
    assert seen.details == {"claim": cvec_claim.pk, "from": "confirmed", "to": "mismatch"}
    assert f"Dossier {reference}" not in client.get(reverse("home")).text


def test_the_same_verdict_again_tells_nobody(cvec_claim, clerk, django_capture_on_commit_callbacks):
    _first_check(cvec_claim, clerk, django_capture_on_commit_callbacks)
    later = FIRST_CHECK + dt.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(later):
        again = run_until_done(request_for(cvec_claim, clerk))
    assert again.verdict == Verdict.CONFIRMED
    assert not VerdictChange.objects.exists()


def test_an_outage_in_between_is_not_a_change_but_the_next_answer_is(
    cvec_claim, clerk, settings, sandbox_settings, django_capture_on_commit_callbacks
):
    _first_check(cvec_claim, clerk, django_capture_on_commit_callbacks)
    settings.VERIFICATION_MAX_FAILURES = 1
    sandbox_settings.configure(apis={"cvec": {"outage": True}})
    with time_machine.travel(TWO_YEARS_LATER - dt.timedelta(days=1)):
        down = run_until_done(request_for(cvec_claim, clerk))
    assert down.verdict == Verdict.UNAVAILABLE
    assert not VerdictChange.objects.exists()

    sandbox_settings.configure(apis={})
    with time_machine.travel(TWO_YEARS_LATER), django_capture_on_commit_callbacks(execute=True):
        up = run_until_done(request_for(cvec_claim, clerk))
    assert up.verdict == Verdict.MISMATCH
    change = VerdictChange.objects.get()
    assert change.previous_verdict == Verdict.CONFIRMED  # the last definitive one


def test_notices_are_for_their_clerk_and_scoped_to_the_institution(
    cvec_claim, clerk, client, django_capture_on_commit_callbacks
):
    _first_check(cvec_claim, clerk, django_capture_on_commit_callbacks)
    with time_machine.travel(TWO_YEARS_LATER):
        run_until_done(request_for(cvec_claim, clerk))
    change = VerdictChange.objects.get()
    colleague = UserFactory(institution=clerk.institution)
    stranger = UserFactory(supervisor=True)
    for user in (colleague, stranger):
        client.force_login(user)
        assert f"Dossier {cvec_claim.applicant.file_reference}" not in client.get("/").text
        url = reverse("verdict_change_dismiss", args=[change.pk])
        assert client.post(url).status_code == 404
    change.refresh_from_db()
    assert change.dismissed_at is None


def _changes(institution, n, recipient=None):
    for _ in range(n):
        verdict_change_for(institution, recipient)


def _region(html: str) -> str:
    import re

    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    match = re.search(r'<section id="verdict-changes".*?</section>', html, re.S)
    assert match
    return " ".join(match.group(0).split())


def test_the_dismiss_fragment_is_the_same_region_as_the_full_page(institution, clerk, client):
    _changes(institution, 3, recipient=clerk)
    client.force_login(clerk)
    first = VerdictChange.objects.order_by("id").first()
    fragment = client.post(
        reverse("verdict_change_dismiss", args=[first.pk]), headers={"HX-Request": "true"}
    )
    page = client.get(reverse("home")).text
    assert _region(fragment.text) == _region(page)
    assert _region(page).count("<li>") == 2


def test_unaddressed_notices_go_to_supervisors(institution, client):
    _changes(institution, 1, recipient=None)
    client.force_login(UserFactory(institution=institution))
    assert "Aucun changement de verdict" in client.get(reverse("home")).text
    client.force_login(UserFactory(institution=institution, supervisor=True))
    assert "Aucun changement de verdict" not in client.get(reverse("home")).text


def test_dashboard_query_count_does_not_depend_on_the_number_of_notices(
    institution, clerk, client, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 0  # counted on each view: both views count
    client.force_login(clerk)
    _changes(institution, 2, recipient=clerk)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    _changes(institution, 15, recipient=clerk)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("home")).text
    assert page.count('class="inline-form"') == 17
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_declaration_edited_since_the_last_check_has_nothing_to_compare_with(
    cvec_claim, clerk, django_capture_on_commit_callbacks
):
    from verifications.services.claims import claim_update_declared

    _first_check(cvec_claim, clerk, django_capture_on_commit_callbacks)
    claim_update_declared(
        acting_user=clerk,
        claim=cvec_claim,
        declared={**cvec_claim.declared, "campaign": 2027},
    )
    with time_machine.travel(TWO_YEARS_LATER):
        after = run_until_done(request_for(cvec_claim, clerk))
    assert after.verdict == Verdict.MISMATCH
    assert not VerdictChange.objects.exists()
