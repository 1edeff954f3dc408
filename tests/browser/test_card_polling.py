"""Claim cards that poll only when something changed, in a real browser (static/js/poll.js):
while a check waits its turn the card's polls are answered 304 and come further and further
apart; a hidden tab sends none; shown again, the card asks at once and shows the verdict
reached meanwhile."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.population import ScolariteOutcome
from tests.browser.conftest import TIMEOUT_MS
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import ClaimKind
from verifications.models import VerificationRequest


expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
).expect


HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_waiting_card_backs_off_stops_when_hidden_and_shows_the_verdict_when_shown(
    clerk_page,
):
    page = clerk_page
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, page.user.institution
    )
    request = request_for(claim, page.user)
    # Waiting its turn (a rate limit, a retry): the card polls, nothing changes.
    VerificationRequest.objects.filter(pk=request.pk).update(
        not_before=timezone.now() + timedelta(hours=1)
    )
    polls: list[tuple[float, int]] = []
    page.on(
        "response",
        lambda response: (
            "/carte/" in response.url and polls.append((time.monotonic() * 1000, response.status))
        ),
    )
    page.goto(f"/candidats/{claim.applicant_id}/")
    card = page.locator(f"#claim-{claim.pk}")
    expect(card).to_contain_text("En attente")

    deadline = 20_000
    waited = 0
    while len(polls) < 3 and waited < deadline:
        page.wait_for_timeout(500)
        waited += 500
    assert len(polls) >= 3, polls
    assert [status for _, status in polls[:3]] == [304, 304, 304]  # the page gave its ETag
    gaps = [polls[1][0] - polls[0][0], polls[2][0] - polls[1][0]]
    assert 3_000 < gaps[0] < 6_000, gaps  # 4 s after 2 s
    assert gaps[1] > 1.5 * gaps[0], gaps  # then 8 s
    expect(card).to_contain_text("En attente")  # the 304s left the card as it was

    page.evaluate(HIDE)
    hidden_at = len(polls)
    # The check ends while nobody looks.
    VerificationRequest.objects.filter(pk=request.pk).update(not_before=None)
    run_until_done(request)
    page.wait_for_timeout(9_000)  # longer than the next poll would have waited
    assert len(polls) == hidden_at, "a hidden tab sent polls"
    expect(card).to_contain_text("En attente")

    page.evaluate(SHOW)
    expect(card.locator(".status .badge")).to_contain_text("Confirmé", timeout=TIMEOUT_MS)
    page.wait_for_timeout(3_000)
    assert polls[hidden_at][1] == 200
    assert polls[hidden_at][0] - polls[hidden_at - 1][0] >= 9_000
    assert len(polls) == hidden_at + 1, "a card whose check is over stops polling"
