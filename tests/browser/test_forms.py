"""The clerk's forms in a real browser: a refused decision comes back on its own card (htmx swap,
no page load) with the text typed and the field in error focused; the settings page is a
narrow, grouped form whose error summary links to each field; a checkbox sits next to its
label (settings, erasure confirmation)."""

import pytest

from tests.browser.guards import no_navigation_guard
from tests.factories import ApplicantFactory, ClaimFactory
from verifications.enums import Verdict


expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
).expect

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def checkbox_gaps(page) -> dict[str, float]:
    """For each visible checkbox or radio, how far its words start from its right edge (in
    pixels), or ``inf`` when the words begin on another line than the box. A label may be
    beside the box (``for``) or wrap it."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(
                'input[type=checkbox], input[type=radio]')]
            .filter(box => box.offsetParent && box.labels && box.labels.length)
            .map(box => {
                const label = box.labels[0], b = box.getBoundingClientRect();
                const range = document.createRange();
                if (label.contains(box)) {
                    range.setStartAfter(box);
                    range.setEnd(label, label.childNodes.length);
                } else {
                    range.selectNodeContents(label);
                }
                // The first piece of words (a lone space is narrower than 5 px).
                const words = [...range.getClientRects()].find(r => r.width > 5);
                const middle = b.top + b.height / 2;
                const sameLine = words && words.top <= middle && middle <= words.bottom;
                return [box.id || box.name, sameLine ? words.left - b.right : Infinity];
            }))"""
    )


def test_a_refused_manual_verification_stays_on_its_card_with_the_text_typed(clerk_page):
    page = clerk_page
    applicant = ApplicantFactory(institution=page.user.institution)
    ClaimFactory(applicant=applicant, kind="cvec", declared={"code": "A1B2C3D4"})
    claim = ClaimFactory(applicant=applicant, verdict=Verdict.UNAVAILABLE)
    page.goto(f"/candidats/{applicant.pk}/")
    card = page.locator(f"#claim-{claim.pk}")
    navigations = no_navigation_guard(page)

    card.get_by_text("Vérification manuelle (mode dégradé)").click()
    card.get_by_label("Pièce consultée").fill("certificat de scolarité 2025-2026")
    card.get_by_label("Justification").fill("vu")
    card.get_by_role("button", name="Enregistrer la vérification manuelle").click()

    justification = card.get_by_label("Justification")
    expect(card.locator(".field-errors")).to_contain_text("10 caractères")
    expect(justification).to_have_value("vu")
    expect(card.get_by_label("Pièce consultée")).to_have_value("certificat de scolarité 2025-2026")
    expect(justification).to_have_attribute("aria-invalid", "true")
    expect(justification).to_be_focused()
    assert navigations == []
    assert page.evaluate("window.__vigieNoReload") is True

    justification.fill("original présenté au guichet le 12/10")
    card.get_by_role("button", name="Enregistrer la vérification manuelle").click()
    expect(page.get_by_text("Vérification manuelle enregistrée.")).to_be_visible()
    expect(page.locator(f"#claim-{claim.pk}-decision")).to_contain_text("Vérifié manuellement")
    assert page.url.endswith(f"/candidats/{applicant.pk}/#claim-{claim.pk}")


def test_the_settings_page_is_a_narrow_grouped_form_whose_summary_links_each_error(
    signed_in_page, make_user
):
    page = signed_in_page(make_user("institution_admin"), viewport=LAPTOP)
    page.goto("/etablissement/parametres/")
    form = page.locator("form.settings-form")
    box = form.bounding_box()
    assert box["width"] <= 46 * 15 + 1, box
    assert box["height"] < 2000, box
    gaps = checkbox_gaps(page)
    assert gaps
    assert all(0 <= gap <= 16 for gap in gaps.values()), gaps

    page.get_by_label("Du (JJ/MM)").first.fill("31/02")
    page.get_by_label("Au (JJ/MM)").first.fill("31/10")
    page.get_by_role("button", name="Enregistrer").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    links = summary.get_by_role("link")
    expect(links).to_have_count(1)
    expect(links.first).to_contain_text("31/02 n'existe pas")
    links.first.click()
    field = page.locator("#id_scolarite-active_from")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_each_box_sits_next_to_its_words(signed_in_page, make_user, viewport):
    """Checkboxes and radios on the forms (settings, erasure, new batch, new applicant): the
    words start just after the box, on its line, on a phone as on a laptop."""
    page = signed_in_page(make_user("institution_admin"), viewport=viewport)
    applicant = ApplicantFactory(institution=page.user.institution)
    for url in (
        "/etablissement/parametres/",
        f"/candidats/{applicant.pk}/effacer/",
        "/lots/nouveau/",
        "/candidats/nouveau/",
    ):
        page.goto(url)
        gaps = checkbox_gaps(page)
        assert gaps, url
        assert all(0 <= gap <= 16 for gap in gaps.values()), (url, gaps)
