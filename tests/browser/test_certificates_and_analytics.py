"""Certificates and analytics in a real browser: a clerk downloads a claim's certificate from
its card, anyone checks it on the public page (by its QR code's address), and the analytics
page and the public page pass axe and fit a phone without scrolling sideways."""

import json

import pytest

from tests.browser.test_layout import LAPTOP, PHONE, checked_applicant, sideways


pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
)


def test_a_certificate_from_its_card_checks_out_on_the_public_page(signed_in_page, make_user, axe):
    from pypdf import PdfReader

    from verifications.certificates.payload import check_code

    page = signed_in_page(make_user("clerk"), viewport=LAPTOP)
    applicant = checked_applicant(page.user.institution)
    page.goto(f"/candidats/{applicant.pk}/")
    link = page.locator("a[href$='certificat.pdf?langue=fr']").first
    with page.expect_download() as download:
        link.click()
    attachments = PdfReader(download.value.path()).attachments
    statement = json.loads(attachments["vigie-certificate.json"][0])
    code = check_code(attachments["vigie-certificate.sig"][0])
    assert statement["applicant"]["file_reference"] == applicant.file_reference

    page.goto(f"/certificats/{statement['number']}/{code}/")
    result = page.locator("#certificate-result")
    assert "Certificat authentique, toujours valable" in result.inner_text()
    assert applicant.birth_name not in page.content()
    axe(page)
    page.set_viewport_size(PHONE)
    assert sideways(page) == 0


def test_the_analytics_page_passes_axe_and_fits_a_phone(signed_in_page, make_user, axe):
    page = signed_in_page(make_user("supervisor"), viewport=LAPTOP)
    checked_applicant(page.user.institution)
    page.goto("/analyses/")
    assert page.get_by_role("heading", level=1).inner_text() == "Analyses des vérifications"
    assert page.locator("svg.chart[role=img]").count() >= 3
    axe(page)
    page.set_viewport_size(PHONE)
    page.goto("/analyses/")
    assert sideways(page) == 0
