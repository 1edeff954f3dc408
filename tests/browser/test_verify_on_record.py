"""Browser: an institution admin turns on "Vérifier les déclarations dès leur enregistrement";
then a clerk's import is checked with no click, as one verification batch the clerk follows from
the import's list to 100 %; a claim added on an applicant's page gets its verdict live, and so
does a claim whose verdict an edit of the applicant's birth name reset. Real Chromium, the
worker process, the sandbox."""

import re
import time

import pytest

from tests.browser.test_cohort_verification import _write_csv
from tests.verifications.helpers import answering_people, claim_for, import_row
from verifications.enums import BatchKind, ClaimKind, Trigger
from verifications.models import Batch, Claim, VerificationRequest


pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
)


def _reload_until_visible(page, selector: str, timeout: float = 60.0):
    """The checks are asked for by the worker once the import is committed: the list that
    follows the import shows them at its next load."""
    deadline = time.monotonic() + timeout
    while not page.locator(selector).count():
        assert time.monotonic() < deadline, f"{selector} never appeared on {page.url}"
        time.sleep(0.5)
        page.reload()
    return page.locator(selector)


def test_with_the_setting_on_an_import_is_checked_as_one_batch_the_clerk_follows(
    signed_in_page, make_user, browser_worker, axe, tmp_path
):
    from playwright.sync_api import expect

    admin = signed_in_page(make_user("institution_admin"))
    admin.goto("/etablissement/parametres/")
    box = admin.get_by_label("Vérifier les déclarations dès leur enregistrement")
    expect(box).not_to_be_checked()  # off by default
    box.check()
    admin.get_by_role("button", name="Enregistrer").click()
    expect(admin.locator(".message").first).to_be_visible()
    admin.goto("/etablissement/parametres/")
    expect(admin.get_by_label("Vérifier les déclarations dès leur enregistrement")).to_be_checked()

    clerk = signed_in_page(make_user("clerk"))
    rows = [import_row(p) for p in answering_people(4)]
    clerk.goto("/imports/nouveau/")
    clerk.get_by_label("Fichier CSV").set_input_files(_write_csv(tmp_path / "quatre.csv", rows))
    clerk.locator("#import-upload-submit").click()
    expect(clerk.locator("#import-valid-count")).to_have_text("4")
    clerk.locator("#import-confirm").click()
    clerk.wait_for_url(re.compile(r"/candidats/\?batch=\d+$"))

    # No click on "Vérifier": the import's list says its claims are being (or were) checked,
    # and leads to the batch.
    link = _reload_until_visible(clerk, "#import-verification-link")
    expect(clerk.locator("#import-verification-note")).to_contain_text("Les déclarations de cet")
    axe(clerk)
    link.click()
    clerk.wait_for_url(re.compile(r"/lots/\d+/$"))
    expect(clerk.locator("h1")).to_contain_text("Vérification de l'import « Import du ")
    expect(clerk.locator("#batch-progress")).to_have_attribute(
        "data-status", "done", timeout=120_000
    )
    bar = clerk.locator("#batch-progress-bar")
    assert (bar.get_attribute("max"), bar.get_attribute("value")) == ("4", "4")
    imported = Batch.objects.get(kind=BatchKind.IMPORT, institution=clerk.user.institution)
    verification = Batch.objects.get(import_batch=imported)
    assert set(
        VerificationRequest.objects.filter(batch=verification).values_list(
            "trigger", "requested_by"
        )
    ) == {(Trigger.ON_RECORD, clerk.user.pk)}
    assert not Claim.objects.filter(applicant__batch=imported, verdict="").exists()
    # The import's page names it too.
    clerk.goto(f"/lots/{imported.pk}/")
    expect(clerk.locator("#import-verification-link")).to_have_text("Voir les résultats")


def test_with_the_setting_on_a_claim_reset_by_an_identity_edit_is_checked_again_live(
    signed_in_page, make_user, browser_worker
):
    from playwright.sync_api import expect

    clerk = signed_in_page(make_user("clerk"))
    institution = clerk.user.institution
    institution.verify_on_record = True
    institution.save(update_fields=["verify_on_record"])
    p = answering_people(1)[0]
    claim = claim_for(p, ClaimKind.SCOLARITE, institution)
    applicant = claim.applicant
    claim.verdict = "confirmed"
    claim.save(update_fields=["verdict"])

    clerk.goto(f"/candidats/{applicant.pk}/modifier/")
    name = clerk.get_by_label("Nom de naissance")
    name.fill(p.birth_name + "-DUPONT")
    clerk.get_by_role("button", name=re.compile("Enregistrer")).click()
    clerk.wait_for_url(re.compile(rf"/candidats/{applicant.pk}/$"))
    card = clerk.locator(f"#claim-{claim.pk}")
    # Reset by the edit, then checked again with no click: the card follows the check live.
    expect(card).not_to_have_attribute("hx-trigger", re.compile(".*"), timeout=60_000)
    expect(card.locator(".status .badge")).not_to_contain_text("Non vérifié", timeout=60_000)
    requests = VerificationRequest.objects.filter(claim=claim)
    assert list(requests.values_list("trigger", flat=True)) == [Trigger.ON_RECORD]
    claim.refresh_from_db()
    assert claim.verdict
