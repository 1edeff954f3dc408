"""The applicant's timeline in a real browser: it follows a check from the click to the verdict
without a reload, and nothing polls it once the check is over."""

import pytest

from sandbox.population import ScolariteOutcome
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.guards import no_navigation_guard
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import ClaimKind


expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
).expect


def test_the_timeline_follows_a_check_to_its_verdict(clerk_page, browser_worker):
    page = clerk_page
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, page.user.institution
    )
    timeline_loads: list[str] = []
    page.on(
        "request",
        lambda request: "/historique/" in request.url and timeline_loads.append(request.url),
    )
    page.goto(f"/candidats/{claim.applicant_id}/")
    timeline = page.locator("#timeline-list")
    expect(timeline).not_to_contain_text("Vérification demandée")
    navigations = no_navigation_guard(page)

    card = page.locator(f"#claim-{claim.pk}")
    card.get_by_role("button", name="Vérifier").click()
    expect(timeline).to_contain_text("Vérification demandée")
    expect(card.locator(".badge").first).to_contain_text("Confirmé", timeout=TIMEOUT_MS * 2)
    expect(timeline).to_contain_text("Verdict enregistré")
    expect(timeline).to_contain_text("Confirmé")

    assert navigations == [], "the page navigated: the timeline must follow without a reload"
    loads = len(timeline_loads)
    assert 1 <= loads <= 3  # once for the request, once for the verdict (a poll may overlap)
    page.wait_for_timeout(5000)
    assert len(timeline_loads) == loads, "the timeline is loaded again with no check running"
