"""The forms on a claim's card (manual verification, override, variants): a refusal comes back
on that card, the error next to its field, what was typed kept, and the first field in error
focused: the card alone when htmx sent the form, the whole page otherwise (no JavaScript)."""

import pytest
from django.urls import reverse

from tests.factories import ApplicantFactory, ClaimFactory
from tests.form_checks import assert_errors_flagged, assert_unique_ids, parse
from tests.html import region
from verifications.enums import Verdict


pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _autofocused(html: str) -> list[str]:
    return [e.attrs.get("id", "") for e in parse(html).elements if "autofocus" in e.attrs]


@pytest.fixture
def claims(supervisor):
    applicant = ApplicantFactory(institution=supervisor.institution)
    first = ClaimFactory(applicant=applicant, verdict=Verdict.UNAVAILABLE)
    second = ClaimFactory(applicant=applicant, kind="cvec", declared={"code": "A1B2C3D4"})
    return first, second


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_a_refused_manual_verification_comes_back_on_its_card(supervisor_client, claims, htmx):
    claim, other = claims
    typed = {"document": "certificat de scolarité", "justification": "vu"}
    response = supervisor_client.post(
        reverse("claim_manual", args=[claim.pk]), typed, headers=HTMX if htmx else {}
    )
    page = response.text
    if htmx:
        # The card alone, answered 200 (htmx swaps only a success) for hx-target #claim-<pk>.
        assert response.status_code == 200
        assert page.lstrip().startswith(f'<article class="claim-card" id="claim-{claim.pk}"')
        assert f'id="claim-{other.pk}"' not in page
    else:
        assert response.status_code == 400
    card = region(page, f"claim-{claim.pk}")
    assert f'id="id_claim{claim.pk}_manual_justification_error"' in card
    assert "certificat de scolarité" in card  # kept
    # The browser opens on the field in error, not at the top of the page.
    assert _autofocused(page) == [f"id_claim{claim.pk}_manual_justification"]
    assert_unique_ids(page)
    assert_errors_flagged(page, "the applicant page")


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_a_refused_override_keeps_the_reason_typed(supervisor_client, claims, htmx):
    claim, _other = claims
    typed = {"verdict": "confirmed", "justification": "pièce originale vue au guichet"}
    response = supervisor_client.post(
        reverse("claim_override", args=[claim.pk]), typed, headers=HTMX if htmx else {}
    )
    assert response.status_code == (200 if htmx else 400)
    card = region(response.text, f"claim-{claim.pk}")
    assert "pièce originale vue au guichet" in card
    assert "Cochez la case pour confirmer votre décision." in card
    assert _autofocused(response.text) == [f"id_claim{claim.pk}_override_confirm"]
    assert_errors_flagged(response.text, "the applicant page")


def test_the_card_forms_post_through_htmx_to_their_own_card(supervisor_client, claims):
    claim, _other = claims
    card = region(
        supervisor_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text,
        f"claim-{claim.pk}",
    )
    for name in ("claim_manual", "claim_override"):
        url = reverse(name, args=[claim.pk])
        assert f'hx-post="{url}" hx-target="#claim-{claim.pk}" hx-swap="outerHTML"' in card


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_an_accepted_decision_goes_back_to_the_page_at_its_card(supervisor_client, claims, htmx):
    """The page again (its message, the card's new state, the timeline's new line), at the
    card: htmx is told to load it as a page, not to swap it into the card."""
    claim, _other = claims
    response = supervisor_client.post(
        reverse("claim_manual", args=[claim.pk]),
        {"document": "certificat de scolarité", "justification": "original vu au guichet"},
        headers=HTMX if htmx else {},
    )
    target = reverse("applicant_detail", args=[claim.applicant_id]) + f"#claim-{claim.pk}"
    if htmx:
        assert response.status_code == 200
        assert response.headers["HX-Redirect"] == target
        assert response.headers["HX-Refresh"] == "true"
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == target
    claim.refresh_from_db()
    assert claim.verdict == Verdict.MANUAL
