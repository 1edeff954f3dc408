"""Claim cards in a real browser: a supervisor's override shown as a person's decision over the
source's own answer, an edited claim whose old evidence is no longer presented as current, and
a "not found" card whose variant, chosen by a clerk, runs in the worker and is audited."""

import re

import pytest

from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from sandbox.population import ScolariteOutcome
from tests.browser.conftest import TIMEOUT_MS
from tests.verifications.helpers import (
    claim_for,
    person_with,
    request_for,
    run_until_done,
    typo_claim,
)
from verifications.enums import ClaimKind
from verifications.models import Claim, VerificationRequest


expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
).expect


def checked_claim(institution, **outcome) -> Claim:
    claim = claim_for(person_with(**outcome), ClaimKind.SCOLARITE, institution)
    run_until_done(request_for(claim))
    return claim


def test_an_overridden_claim_shows_the_decision_the_person_the_reason_and_the_sources_answer(
    supervisor_page, axe
):
    page = supervisor_page
    page.user.first_name, page.user.last_name = "Marie", "Dupont"
    page.user.save(update_fields=["first_name", "last_name"])
    claim = checked_claim(page.user.institution, scolarite=ScolariteOutcome.ENROLLED)
    page.goto(f"/candidats/{claim.applicant_id}/")
    card = page.locator(f"#claim-{claim.pk}")
    expect(card.locator(".status .badge")).to_contain_text("Confirmé")

    card.get_by_text("Modifier le verdict (superviseur)").click()
    verdict = card.get_by_label("Nouveau verdict")
    expect(verdict).to_have_value("")  # no verdict chosen in advance
    verdict.select_option(label="Contredit")
    card.get_by_label("Motif").fill("Le certificat présenté était celui de l'an dernier")
    card.get_by_role("button", name="Enregistrer le verdict").click()
    # Not confirmed yet: the form comes back, open, with the reason still typed.
    expect(card.get_by_text("Cochez la case pour confirmer votre décision.")).to_be_visible()
    expect(card.get_by_label("Motif")).to_have_value(
        "Le certificat présenté était celui de l'an dernier"
    )
    card.get_by_label(re.compile("Je confirme remplacer le verdict")).check()
    card.get_by_role("button", name="Enregistrer le verdict").click()

    expect(page.get_by_text("Verdict modifié.")).to_be_visible()
    expect(card.locator(".status .badge")).to_contain_text("Contredit")
    expect(card.locator(".status")).to_contain_text("décision d'une personne")
    decision = card.locator(f"#claim-{claim.pk}-decision")
    expect(decision).to_contain_text("Contredit par décision de Marie Dupont (Superviseur), le ")
    expect(decision).to_contain_text("« Le certificat présenté était celui de l'an dernier »")
    expect(decision).to_contain_text("La source disait : Confirmé.")
    answer = card.locator(f"#claim-{claim.pk}-answer")
    answer.locator("summary").click()
    expect(answer.locator("table.diff")).to_be_visible()
    expect(answer.locator(".reason")).to_contain_text("L'élève est scolarisé")
    expect(card.get_by_text("1 appel à la source")).to_be_visible()
    expect(page.locator("#timeline-list")).to_contain_text("Confirmé → Contredit")
    axe(page)


def test_an_edited_claim_no_longer_presents_its_old_evidence_as_current(clerk_page):
    page = clerk_page
    claim = checked_claim(page.user.institution, scolarite=ScolariteOutcome.ENROLLED)
    page.goto(f"/candidats/{claim.applicant_id}/")
    card = page.locator(f"#claim-{claim.pk}")
    answer = card.locator(f"#claim-{claim.pk}-answer")
    expect(answer).to_have_attribute("open", "")
    expect(answer.locator("table.diff")).to_be_visible()

    card.get_by_role("link", name="Modifier la déclaration").click()
    page.get_by_label("Année scolaire").fill(str(claim.declared["school_year"] - 1))
    page.get_by_role("button", name=re.compile("Enregistrer")).click()

    card = page.locator(f"#claim-{claim.pk}")
    expect(card.locator(".status .badge")).to_contain_text("Non vérifié")
    answer = card.locator(f"#claim-{claim.pk}-answer")
    expect(answer.locator("summary")).to_contain_text(
        "Réponse de la source — concerne la déclaration précédente"
    )
    expect(answer).not_to_have_attribute("open", "")
    expect(answer.locator("table.diff")).to_be_hidden()  # folded away until asked for
    expect(card.get_by_text(re.compile("valable jusqu"))).to_have_count(0)


def test_a_not_found_card_offers_variants_and_a_chosen_variant_runs_and_is_audited(
    clerk_page, browser_worker
):
    page = clerk_page
    claim, p = typo_claim(page.user.institution)
    run_until_done(request_for(claim))

    page.goto(f"/candidats/{claim.applicant_id}/")
    card = page.locator(f"#claim-{claim.pk}")
    expect(card.locator(".status .badge")).to_contain_text("Inconnu de la source")
    card.get_by_text("La source ne connaît pas cette identité : essayer une variante").click()
    card.get_by_label(re.compile("le jour et le mois de naissance inversés")).check()
    card.get_by_label("Pourquoi essayer ces variantes").fill("date relue sur le bulletin de notes")
    card.get_by_role("button", name="Essayer les variantes cochées").click()
    expect(page.get_by_text("1 variante envoyée à la source.")).to_be_visible()

    card = page.locator(f"#claim-{claim.pk}")
    variants = card.locator(f"#claim-{claim.pk}-variants")
    expect(variants.locator(".badge")).to_contain_text(
        "Identité divergente", timeout=TIMEOUT_MS * 2
    )
    expect(variants).to_contain_text("pour cette variante, elle répond : Confirmé")
    asked = AuditEvent.objects.filter(
        action=AuditAction.VERIFICATION_REQUESTED, details__variant="day_month_swapped"
    ).get()
    assert asked.actor == page.user
    assert asked.purpose == "date relue sur le bulletin de notes"
    assert asked.details["fields"] == ["birth_date"]

    variants.get_by_role("button", name=re.compile("Corriger le dossier")).click()
    expect(page.get_by_text(re.compile("Dossier corrigé d'après la variante"))).to_be_visible()
    expect(page.locator(f"#claim-{claim.pk} .status .badge")).to_contain_text(
        "Confirmé", timeout=TIMEOUT_MS * 2
    )
    assert Applicant.objects.get(pk=claim.applicant_id).birth_date == p.birth_date
    assert VerificationRequest.objects.filter(claim=claim).count() == 3
