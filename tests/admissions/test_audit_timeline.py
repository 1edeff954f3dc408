"""The applicant's timeline follows the cards: a card that htmx brings back after an action, or
at the end of its check, reloads it; a card still polling does not, and nothing polls it."""

import pytest
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import ScolariteOutcome
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from tests.html import assert_same_region, region
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import ClaimKind
from verifications.models import VerificationRequest
from verifications.services import verification_run


pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
REFRESH = 'id="timeline-refresh"'


def _refreshes(html: str, applicant_id: int) -> bool:
    """Whether a card response brings the timeline's reload (out of band)."""
    url = reverse("applicant_timeline", args=[applicant_id])
    return 'hx-swap-oob="true"' in html and f'hx-get="{url}"' in html


@pytest.mark.usefixtures("sandbox_settings")
def test_the_timeline_reloads_when_a_check_is_asked_and_when_it_ends_not_while_it_runs(
    clerk, clerk_client
):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, clerk.institution
    )
    page = clerk_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert REFRESH in page  # where a card's reload lands
    assert "hx-trigger" not in region(page, "timeline")  # nothing polls the timeline

    asked = clerk_client.post(reverse("claim_verify", args=[claim.pk]), headers=HTMX).text
    assert _refreshes(asked, claim.applicant_id)
    polled = clerk_client.get(reverse("claim_card", args=[claim.pk]), headers=HTMX).text
    assert 'hx-trigger="poll"' in polled
    assert not _refreshes(polled, claim.applicant_id)

    verification_run(request_id=VerificationRequest.objects.get(claim=claim).pk)
    last = clerk_client.get(reverse("claim_card", args=[claim.pk]), headers=HTMX).text
    assert 'hx-trigger="poll"' not in last
    assert _refreshes(last, claim.applicant_id)

    timeline = clerk_client.get(reverse("applicant_timeline", args=[claim.applicant_id]))
    assert timeline.status_code == 200
    assert "Verdict enregistré" in region(timeline.text, "timeline-list")
    assert "Vérification demandée" in region(timeline.text, "timeline-list")


def test_the_timeline_alone_is_the_pages_region(clerk, clerk_client):
    applicant = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution)).applicant
    page = clerk_client.get(reverse("applicant_detail", args=[applicant.pk])).text
    alone = clerk_client.get(reverse("applicant_timeline", args=[applicant.pk])).text
    assert_same_region(alone, page, "timeline")


def test_the_timeline_is_no_consultation_and_stays_in_its_institution(clerk, clerk_client):
    applicant = ApplicantFactory(institution=clerk.institution)
    assert clerk_client.get(reverse("applicant_timeline", args=[applicant.pk])).status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.VIEWED).exists()
    other = ApplicantFactory(institution=UserFactory().institution)
    assert clerk_client.get(reverse("applicant_timeline", args=[other.pk])).status_code == 404


def test_a_full_page_card_brings_no_reload(clerk, clerk_client):
    claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
    card = clerk_client.get(reverse("claim_card", args=[claim.pk])).text  # not htmx
    assert not _refreshes(card, claim.applicant_id)
