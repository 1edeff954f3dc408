"""A claim card's poll answered ``304 Not Modified`` while the card would be the same
(``selectors.claim_card_etag``, ``views.claims.claim_card``): the same ETag while nothing
changed, a new one, with the new card, for each thing the card shows that can change, time
included."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from admissions.enums import Role
from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import RequestState, Verdict
from verifications.models import Claim, VerificationAttempt, VerificationRequest
from verifications.selectors import ON_RECORD_WAIT


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

HTMX = {"HX-Request": "true"}
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def clerk(institution):
    return UserFactory(institution=institution, role=Role.CLERK)


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client


def _poll(client, claim, etag: str | None = None):
    headers = dict(HTMX)
    if etag:
        headers["If-None-Match"] = etag
    return client.get(reverse("claim_card", args=[claim.pk]), headers=headers)


def _shown(response) -> str:
    """The card as the person sees it: its forms' CSRF tokens are masked anew on each render."""
    return CSRF.sub("", response.text)


def _enrolled(institution) -> Claim:
    return claim_for(person_with(scolarite=ScolariteOutcome.ENROLLED), "scolarite", institution)


def test_an_unchanged_card_is_answered_304_with_the_same_etag_and_nothing_rendered(
    clerk, clerk_client
):
    claim = _enrolled(clerk.institution)
    request_for(claim, clerk)
    first = _poll(clerk_client, claim)
    assert first.status_code == 200
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first["Cache-Control"] == "no-store"
    assert f"claim-{claim.pk}" in first.text

    with CaptureQueriesContext(connection) as queries:
        again = _poll(clerk_client, claim, etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "no-store"
    # The session, the user, and the card's state: one aggregate query, no card loaded.
    assert len(queries) == 3, [q["sql"] for q in queries]
    assert "verificationattempt" not in " ".join(q["sql"] for q in queries).lower()

    # Another ETag (a card the page no longer shows, or a list without ours): the card itself.
    other = _poll(clerk_client, claim, '"0123", W/"4567"')
    assert other.status_code == 200
    assert other["ETag"] == etag
    # The ETag of the full card, not of an earlier state: rendered twice, the same.
    assert _shown(other) == _shown(first)
    # A weak form of our own tag (a proxy may weaken it) still matches.
    assert _poll(clerk_client, claim, f"W/{etag}").status_code == 304


def test_another_institutions_card_is_404_with_or_without_an_etag(clerk, clerk_client):
    foreign = _enrolled(InstitutionFactory())
    assert _poll(clerk_client, foreign).status_code == 404
    assert _poll(clerk_client, foreign, '"whatever"').status_code == 404


def _update_request(claim, **fields):
    VerificationRequest.objects.filter(claim=claim).update(**fields)


def _state_changes(clerk):
    """(what changes, how): each changes what the card shows."""

    def new_request(claim):
        request_for(claim, clerk)

    def running(claim):
        _update_request(claim, state=RequestState.RUNNING, claimed_at=timezone.now())

    def call_failed(claim):
        request = VerificationRequest.objects.get(claim=claim)
        VerificationAttempt.objects.create(
            request=request, source=request.source, outcome="unavailable", http_status=502
        )
        _update_request(
            claim,
            state=RequestState.PENDING,
            attempt_count=1,
            failure_count=1,
            not_before=timezone.now() + timedelta(minutes=5),
        )

    def waits_longer(claim):
        _update_request(claim, not_before=timezone.now() + timedelta(minutes=20))

    def finished(claim):
        request = VerificationRequest.objects.get(claim=claim)
        run_until_done(request)

    def verdict_overridden(claim):
        from verifications.services.decisions import claim_override_verdict

        claim_override_verdict(
            claim=claim,
            acting_user=UserFactory(institution=claim.institution, role=Role.SUPERVISOR),
            verdict=Verdict.CONTRADICTED,
            justification="Le certificat présenté était celui de l'an dernier",
        )

    def evidence_purged(claim):
        _update_request(claim, evidence={}, evidence_purged_at=timezone.now())

    def declaration_edited(claim):
        declared = dict(claim.declared, school_year=claim.declared["school_year"] - 1)
        Claim.objects.filter(pk=claim.pk).update(declared=declared, updated_at=timezone.now())

    return [
        ("a check asked", new_request),
        ("a worker takes it", running),
        ("a call failed, a retry waits", call_failed),
        ("the wait moves", waits_longer),
        ("the source answers", finished),
        ("a supervisor overrides the verdict", verdict_overridden),
        ("the raw evidence is purged", evidence_purged),
        ("the declaration is edited", declaration_edited),
    ]


def test_each_change_the_card_shows_gives_a_new_etag_and_the_new_card(clerk, clerk_client):
    claim = _enrolled(clerk.institution)
    before = _poll(clerk_client, claim)
    for what, change in _state_changes(clerk):
        claim.refresh_from_db()
        change(claim)
        after = _poll(clerk_client, claim, before["ETag"])
        assert after.status_code == 200, what
        assert after["ETag"] != before["ETag"], what
        assert _shown(after) != _shown(before), what  # the change shows: the test can fail
        assert _poll(clerk_client, claim, after["ETag"]).status_code == 304, what
        before = after


def test_an_identity_edit_changes_the_card_through_the_claims_question(clerk, clerk_client):
    from admissions import services as admissions_services

    claim = _enrolled(clerk.institution)
    run_until_done(request_for(claim, clerk))
    before = _poll(clerk_client, claim)
    applicant = claim.applicant
    admissions_services.applicant_update(
        applicant=applicant,
        acting_user=clerk,
        changes={"birth_name": applicant.birth_name + "X"},
    )
    after = _poll(clerk_client, claim, before["ETag"])
    assert after.status_code == 200
    assert "concerne la déclaration précédente" in after.text
    assert "concerne la déclaration précédente" not in before.text


def test_time_alone_changes_a_waiting_card_and_an_expected_check(clerk, clerk_client):
    """What the card says about time: "nouvel essai vers 10:05" while the wait is ahead, and
    the card still following a check the institution asks as soon as a claim is recorded."""
    now = timezone.now()
    claim = _enrolled(clerk.institution)
    request_for(claim, clerk)
    _update_request(claim, not_before=now + timedelta(seconds=30))
    waiting = _poll(clerk_client, claim)
    assert "En attente" in waiting.text
    with time_machine.travel(now + timedelta(seconds=10), tick=False):
        assert _poll(clerk_client, claim, waiting["ETag"]).status_code == 304
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        due = _poll(clerk_client, claim, waiting["ETag"])
    assert due.status_code == 200
    assert "En attente" not in due.text

    expected_claim = _enrolled(clerk.institution)
    type(clerk.institution).objects.filter(pk=clerk.institution.pk).update(verify_on_record=True)
    following = _poll(clerk_client, expected_claim)
    assert 'hx-trigger="poll"' in following.text
    with time_machine.travel(timezone.now() + ON_RECORD_WAIT + timedelta(seconds=1)):
        stopped = _poll(clerk_client, expected_claim, following["ETag"])
    assert stopped.status_code == 200
    assert 'hx-trigger="poll"' not in stopped.text


def test_the_reader_is_part_of_the_etag_language_role_and_user(
    institution, clerk, clerk_client, client
):
    claim = _enrolled(institution)
    run_until_done(request_for(claim, clerk))
    etag = _poll(clerk_client, claim)["ETag"]

    clerk_client.cookies["django_language"] = "en"
    english = _poll(clerk_client, claim, etag)
    assert english.status_code == 200
    assert "Revérifier" not in english.text  # the card in English
    del clerk_client.cookies["django_language"]
    assert _poll(clerk_client, claim, etag).status_code == 304

    clerk.role = Role.SUPERVISOR
    clerk.save(update_fields=["role"])
    supervisor_card = _poll(clerk_client, claim, etag)
    assert supervisor_card.status_code == 200
    assert "Modifier le verdict (superviseur)" in supervisor_card.text

    colleague = UserFactory(institution=institution, role=Role.SUPERVISOR)
    client.force_login(colleague)
    assert _poll(client, claim, supervisor_card["ETag"]).status_code == 200


def test_the_page_gives_each_polling_card_its_etag_so_its_first_poll_is_a_304(clerk, clerk_client):
    claim = _enrolled(clerk.institution)
    request_for(claim, clerk)
    page = clerk_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    found = re.search(rf'id="claim-{claim.pk}"[^>]*data-etag="(&quot;[0-9a-f]{{32}}&quot;)"', page)
    assert found, "the polling card carries its ETag"
    etag = found.group(1).replace("&quot;", '"')
    assert _poll(clerk_client, claim, etag).status_code == 304
    card = _poll(clerk_client, claim)  # the card alone carries the same
    assert f'data-etag="{etag.replace('"', "&quot;")}"' in card.text
