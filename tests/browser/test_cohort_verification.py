"""Browser: a clerk imports six applicants and verifies them all with one click, without a
supervisor: "Vérifier les déclarations importées" on the import's list launches a verification
batch whose progress the clerk watches reach 100 % while the worker checks against the sandbox.
And on an applicant's page, "Vérifier toutes les déclarations" checks every card at once."""

import csv
import io
import re

import pytest

from tests.verifications.helpers import answering_people, claim_for, declared_for, import_row
from verifications.enums import ClaimKind
from verifications.models import Claim


pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
)


def _write_csv(path, rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return str(path)


def test_a_clerk_imports_six_applicants_and_verifies_them_in_one_click(
    clerk_page, browser_worker, axe, tmp_path
):
    from playwright.sync_api import expect

    page = clerk_page
    rows = [import_row(p) for p in answering_people(6)]
    page.goto("/imports/nouveau/")
    page.get_by_label("Fichier CSV").set_input_files(_write_csv(tmp_path / "six.csv", rows))
    page.locator("#import-upload-submit").click()
    expect(page.locator("#import-valid-count")).to_have_text("6")
    page.locator("#import-confirm").click()
    page.wait_for_url(re.compile(r"/candidats/\?batch=\d+$"))
    expect(page.locator("#verify-selection-link")).to_have_count(0)  # the supervisor's form
    axe(page)

    page.locator("#import-verify").click()  # the one click
    page.wait_for_url(re.compile(r"/lots/\d+/$"))
    expect(page.get_by_text("Vérification lancée : 6 déclarations à vérifier.")).to_be_visible()
    progress = page.locator("#batch-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=120_000)
    bar = page.locator("#batch-progress-bar")
    assert (bar.get_attribute("max"), bar.get_attribute("value")) == ("6", "6")
    expect(page.locator("#batch-progress-text")).to_contain_text("(100 %)")
    expect(page.locator("#batch-pause")).to_have_count(0)  # pausing stays a supervisor's
    axe(page)


def test_a_clerk_verifies_all_of_an_applicants_claims_in_one_click(clerk_page, browser_worker):
    from playwright.sync_api import expect

    page = clerk_page
    p = answering_people(1)[0]
    first = claim_for(p, ClaimKind.SCOLARITE, page.user.institution)
    second = Claim.objects.create(
        institution=first.institution,
        applicant=first.applicant,
        kind=ClaimKind.CERTIFICATION,
        declared=declared_for(p, ClaimKind.CERTIFICATION),
    )
    page.goto(f"/candidats/{first.applicant_id}/")
    page.locator("#applicant-verify-all").click()
    expect(page.get_by_text("2 vérifications lancées.")).to_be_visible()
    # Each card follows its own check live, then shows its verdict.
    for claim in (first, second):
        card = page.locator(f"#claim-{claim.pk}")
        expect(card).not_to_have_attribute("hx-trigger", re.compile(".*"), timeout=60_000)
        expect(card.locator(".status .badge")).not_to_contain_text("Non vérifié")
    assert not Claim.objects.filter(pk__in=[first.pk, second.pk], verdict="").exists()
