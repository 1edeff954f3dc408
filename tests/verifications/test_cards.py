"""Claim cards that tell the truth (the source's answer, a person's decision and stale evidence
never confused) and assisted re-matching after "not found", through the pages, the pipeline
and the sandbox over real HTTP."""

import csv
import io
import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from admissions import services as admissions_services
from admissions.enums import AuditAction, Role
from admissions.models import Applicant, AuditEvent
from sandbox.population import ScolariteOutcome, person
from tests.factories import InstitutionFactory, UserFactory
from tests.html import region
from tests.verifications.helpers import (
    claim_for,
    person_with,
    request_for,
    run_until_done,
    typo_claim,
)
from verifications.claims import claim_question_digest
from verifications.enums import ClaimKind, RequestState, Trigger, Verdict
from verifications.models import Batch, Claim, VerificationRequest
from verifications.pipeline.questions import question_digest_for
from verifications.rematch import FOUND_WITH_VARIANT
from verifications.services import claims as claim_services
from verifications.services import verification_run
from verifications.services.batches import batch_verification_launch


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def clerk(institution):
    return UserFactory(
        institution=institution, first_name="Camille", last_name="Agent", role=Role.CLERK
    )


@pytest.fixture
def supervisor(institution):
    return UserFactory(
        institution=institution, first_name="Marie", last_name="Dupont", role=Role.SUPERVISOR
    )


def logged_in(client, user):
    client.force_login(user)
    return client


def card_of(client, claim) -> str:
    response = client.get(reverse("claim_card", args=[claim.pk]))
    assert response.status_code == 200
    return region(response.text, f"claim-{claim.pk}")


def override(client, claim, verdict: str = Verdict.CONTRADICTED) -> None:
    response = client.post(
        reverse("claim_override", args=[claim.pk]),
        {"verdict": verdict, "justification": "pièce fausse repérée", "confirm": "on"},
    )
    assert response.status_code == 302


def enrolled_claim(institution) -> Claim:
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    run_until_done(request_for(claim))
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONFIRMED
    return claim


# --- A person's decision on top of the source's answer -----------------------------------------


def test_an_overridden_card_shows_the_decision_who_why_and_what_the_source_said(
    client, institution, supervisor
):
    claim = enrolled_claim(institution)
    logged_in(client, supervisor)
    response = client.post(
        reverse("claim_override", args=[claim.pk]),
        {
            "verdict": Verdict.CONTRADICTED,
            "justification": "Le certificat présenté était celui de l'an dernier",
            "confirm": "on",
        },
    )
    assert response.status_code == 302
    card = card_of(client, claim)
    assert "badge-contradicted" in card
    assert "décision d'une personne" in card
    decision = region(card, f"claim-{claim.pk}-decision")
    assert "<strong>Contredit</strong> par décision de Marie Dupont (Superviseur), le " in decision
    assert "« Le certificat présenté était celui de l&#x27;an dernier »" in decision
    assert "La source disait : Confirmé." in decision
    # The source's own answer is still there, whole: verdict, reason, diff and calls.
    answer = region(card, f"claim-{claim.pk}-answer")
    assert "Réponse de la source" in answer
    assert "badge-confirmed" in answer
    assert "L&#x27;élève est scolarisé dans l&#x27;établissement" in answer
    assert "Déclaré et source, champ par champ" in answer
    assert "1 appel à la source" in card
    assert "concerne la déclaration précédente" not in card


def test_a_manual_verification_names_who_verified_and_on_what_document(client, institution, clerk):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.UNKNOWN), ClaimKind.SCOLARITE, institution
    )
    run_until_done(request_for(claim))
    logged_in(client, clerk)
    response = client.post(
        reverse("claim_manual", args=[claim.pk]),
        {
            "document": "certificat de scolarité 2026-2027",
            "justification": "original présenté au guichet, cachet du lycée",
        },
    )
    assert response.status_code == 302
    card = card_of(client, claim)
    decision = region(card, f"claim-{claim.pk}-decision")
    assert "Vérifié manuellement par Camille Agent (Agent de scolarité), le " in decision
    assert "sur pièce : « certificat de scolarité 2026-2027 »" in decision
    assert "« original présenté au guichet, cachet du lycée »" in decision
    assert "demandé par" not in decision
    answer = region(card, f"claim-{claim.pk}-answer")
    assert "badge-not_found" in answer  # what the source said stays reachable


def test_a_source_answer_after_a_decision_makes_the_decision_history(
    client, institution, supervisor
):
    claim = enrolled_claim(institution)
    logged_in(client, supervisor)
    override(client, claim)
    run_until_done(request_for(claim, supervisor))
    card = card_of(client, claim)
    assert f'id="claim-{claim.pk}-decision"' not in card
    assert "badge-confirmed" in card


# --- Evidence about a previous declaration -----------------------------------------------------


def test_after_an_edit_the_old_evidence_is_labelled_as_about_the_previous_declaration(
    client, institution, clerk
):
    claim = enrolled_claim(institution)
    claim_services.claim_update_declared(
        acting_user=clerk,
        claim=claim,
        declared={"uai": claim.declared["uai"], "school_year": claim.declared["school_year"] - 1},
    )
    logged_in(client, clerk)
    card = card_of(client, claim)
    assert "badge-none" in card  # "Non vérifié"
    answer = region(card, f"claim-{claim.pk}-answer")
    assert "Réponse de la source — concerne la déclaration précédente" in answer
    assert "ne vaut pas pour elle" in answer
    assert " open>" not in answer.split(">", 1)[0] + ">"  # folded away, not presented as current
    assert "valable jusqu" not in card
    edit = AuditEvent.objects.filter(action=AuditAction.EDITED).latest("seq")
    assert edit.details == {
        "kind": "scolarite",
        "fields": ["school_year"],
        "verdict_reset_from": "confirmed",
    }
    timeline = client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert "Confirmé → Non vérifié" in region(timeline, "timeline-list")


def test_an_identity_edit_resets_the_verdicts_asked_about_the_person(client, institution, clerk):
    claim = enrolled_claim(institution)
    p = person_with(certification="active")
    certification = claim_for(p, ClaimKind.CERTIFICATION, institution)
    run_until_done(request_for(certification))
    certification.refresh_from_db()
    before = certification.question_digest
    admissions_services.applicant_update(
        acting_user=clerk, applicant=claim.applicant, changes={"first_names": ["AUTRE"]}
    )
    claim.refresh_from_db()
    assert claim.verdict == ""
    assert claim.question_digest == claim_question_digest(claim)
    event = AuditEvent.objects.filter(action=AuditAction.EDITED).latest("seq")
    assert event.details == {"fields": ["first_names"], "verdicts_reset": 1}
    # Another applicant's certification is untouched, and certification does not ask about a
    # person anyway.
    certification.refresh_from_db()
    assert certification.verdict == Verdict.CONFIRMED
    assert certification.question_digest == before
    logged_in(client, clerk)
    assert "concerne la déclaration précédente" in card_of(client, claim)


@pytest.mark.django_db(transaction=True)
def test_a_check_that_ends_after_an_edit_does_not_give_its_verdict_to_the_claim(
    institution, clerk, sandbox_settings
):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    request = request_for(claim, clerk)
    sandbox_settings.configure(apis={"particulier": {"latency_ms": 1500}})

    def work() -> None:
        try:
            verification_run(request_id=request.pk)
        finally:
            connection.close()  # the thread's own connection

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.7)  # the call is in flight
    claim_services.claim_update_declared(
        acting_user=clerk, claim=claim, declared={**claim.declared, "school_year": 2025}
    )
    worker.join(timeout=30)
    request.refresh_from_db()
    claim.refresh_from_db()
    assert request.state == RequestState.DONE
    assert request.verdict == Verdict.CONFIRMED
    assert claim.verdict == ""  # the answer was about the previous declaration
    assert request.question_digest != claim.question_digest
    recorded = AuditEvent.objects.get(action=AuditAction.VERDICT_RECORDED)
    assert recorded.details["applied"] is False


def test_the_history_gives_each_verdict_change_its_previous_and_new_verdict(
    client, institution, supervisor
):
    claim = enrolled_claim(institution)
    logged_in(client, supervisor)
    override(client, claim)
    timeline = region(
        client.get(reverse("applicant_detail", args=[claim.applicant_id])).text, "timeline-list"
    )
    assert "Non vérifié → Confirmé" in timeline
    assert "Confirmé → Contredit" in timeline
    assert "· → " not in timeline


def test_an_unknown_certification_code_offers_other_forms_of_the_code_not_of_the_identity(
    client, institution, clerk
):
    """Certif Info searches a code, never a person: its card said "La source ne connaît pas
    cette identité" above variants of the code (seen on make run)."""
    from sandbox.population import CertificationOutcome
    from tests.verifications.helpers import person_with

    p = person_with(certification=CertificationOutcome.UNKNOWN)
    claim = claim_for(p, ClaimKind.CERTIFICATION, institution)
    run_until_done(request_for(claim, clerk))
    claim.refresh_from_db()
    assert claim.verdict == Verdict.NOT_FOUND
    card = card_of(logged_in(client, clerk), claim)
    assert "La source ne connaît pas ce code : essayer une autre forme du code" in card
    assert "cette identité" not in card


def test_the_question_digest_is_the_same_from_the_record_and_from_the_pipeline(institution):
    for kind in ClaimKind:
        claim = claim_for(person(3), kind, institution)
        assert claim.question_digest == claim_question_digest(claim)
        assert claim.question_digest == question_digest_for(claim)


# --- Assisted re-matching -------------------------------------------------------------------------


def test_a_not_found_card_offers_variants_and_a_chosen_variant_runs_and_is_audited(
    client, institution, clerk
):
    claim, p = typo_claim(institution)
    run_until_done(request_for(claim, clerk))
    claim.refresh_from_db()
    assert claim.verdict == Verdict.NOT_FOUND
    logged_in(client, clerk)
    card = card_of(client, claim)
    assert "La source ne connaît pas cette identité : essayer une variante" in card
    swapped = p.birth_date.strftime("%d/%m/%Y")
    offered = "Essayer avec le jour et le mois de naissance inversés : Date de naissance"
    assert f"{offered} <strong>{swapped}</strong>" in card

    response = client.post(
        reverse("claim_variants", args=[claim.pk]),
        {"variants": ["day_month_swapped"], "purpose": "date lue sur le bulletin de notes"},
    )
    assert response.status_code == 302
    variant_request = VerificationRequest.objects.get(claim=claim, variant_key="day_month_swapped")
    assert variant_request.requested_by == clerk
    assert variant_request.variant["changes"] == {"birth_date": p.birth_date.isoformat()}
    asked = AuditEvent.objects.filter(action=AuditAction.VERIFICATION_REQUESTED).latest("seq")
    assert asked.actor == clerk
    assert asked.purpose == "date lue sur le bulletin de notes"
    assert asked.details["variant"] == "day_month_swapped"
    assert asked.details["fields"] == ["birth_date"]
    assert p.birth_date.isoformat() not in str(asked.details)  # never the values

    run_until_done(variant_request)
    claim.refresh_from_db()
    assert variant_request.verdict == Verdict.MISMATCH
    assert variant_request.reason_code == FOUND_WITH_VARIANT
    assert variant_request.reason_params["source_verdict"] == Verdict.CONFIRMED
    assert claim.verdict == Verdict.MISMATCH
    card = card_of(client, claim)
    variants = region(card, f"claim-{claim.pk}-variants")
    assert "Variantes de l'identité essayées" in variants
    assert "Corriger le dossier avec cette variante et revérifier" in card
    assert "pour cette variante, elle répond : Confirmé" in card
    assert "— donne le verdict actuel" in variants
    # The record's own "not found" is still there, folded under the variant that decides.
    answer = region(card, f"claim-{claim.pk}-answer")
    assert "badge-not_found" in answer
    assert " open" not in answer.split(">", 1)[0]
    timeline = client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert "variante : le jour et le mois de naissance inversés" in region(
        timeline, "timeline-list"
    )

    # Correcting the record from the variant, then checking again, confirms the claim; the
    # applicant's CVEC claim, checked for the old identity, is checked again too.
    cvec = Claim.objects.create(
        institution=institution,
        applicant=claim.applicant,
        kind=ClaimKind.CVEC,
        declared={"code": p.cvec_code, "campaign": p.cvec_campaign},
    )
    run_until_done(request_for(cvec, clerk))
    response = client.post(reverse("claim_variant_correct", args=[claim.pk, variant_request.pk]))
    assert response.status_code == 302
    applicant = Applicant.objects.get(pk=claim.applicant_id)
    assert applicant.birth_date == p.birth_date
    edit = AuditEvent.objects.filter(action=AuditAction.EDITED).latest("seq")
    assert edit.details["fields"] == ["birth_date"]
    assert edit.purpose.startswith("correction du dossier")
    recheck = VerificationRequest.objects.filter(claim=claim, variant_key="").latest("id")
    assert recheck.state == RequestState.PENDING
    assert recheck.trigger == Trigger.MANUAL
    run_until_done(recheck)
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONFIRMED
    cvec_recheck = VerificationRequest.objects.filter(claim=cvec).latest("id")
    assert cvec_recheck.state == RequestState.PENDING
    run_until_done(cvec_recheck)
    cvec.refresh_from_db()
    assert cvec.verdict == Verdict.CONFIRMED  # the holder's birth date matches the record now
    card = card_of(client, claim)
    assert "Corriger le dossier" not in card  # the variant is about a record since changed
    assert "essayer une variante" not in card


def test_a_variant_the_source_does_not_know_either_leaves_the_claim_as_it_was(
    client, institution, clerk
):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.UNKNOWN), ClaimKind.SCOLARITE, institution
    )
    Applicant.objects.filter(pk=claim.applicant_id).update(birth_name="Lefèvre")
    claim.applicant.refresh_from_db()
    Claim.objects.filter(pk=claim.pk).update(question_digest=claim_question_digest(claim))
    claim.refresh_from_db()
    run_until_done(request_for(claim, clerk))
    logged_in(client, clerk)
    client.post(
        reverse("claim_variants", args=[claim.pk]),
        {"variants": ["ascii"], "purpose": "accents du dossier papier"},
    )
    run_until_done(VerificationRequest.objects.get(claim=claim, variant_key="ascii"))
    claim.refresh_from_db()
    assert claim.verdict == Verdict.NOT_FOUND
    card = card_of(client, claim)
    assert "badge-not_found" in region(card, f"claim-{claim.pk}-variants")
    assert 'value="ascii"' not in card  # tried: no longer proposed


def test_variants_need_a_reason_and_must_be_among_those_proposed(client, institution, clerk):
    claim, _p = typo_claim(institution)
    run_until_done(request_for(claim, clerk))
    logged_in(client, clerk)
    url = reverse("claim_variants", args=[claim.pk])
    response = client.post(url, {"variants": ["day_month_swapped"], "purpose": "car"})
    assert response.status_code == 400
    assert "10 caractères" in response.text
    response = client.post(
        url, {"variants": ["usage_name"], "purpose": "le nom d'usage du dossier"}
    )
    assert response.status_code == 400
    assert not VerificationRequest.objects.exclude(variant_key="").exists()


def test_a_batchs_results_list_the_variants_and_a_supervisor_tries_them_in_one_step(
    client, institution, supervisor
):
    claim, p = typo_claim(institution)
    batch = batch_verification_launch(acting_user=supervisor, claims=[claim], label="Cohorte")
    run_until_done(VerificationRequest.objects.get(batch=batch))
    logged_in(client, supervisor)
    page = client.get(reverse("batch_detail", args=[batch.pk])).text
    assert 'id="batch-variants"' in page
    export = client.get(reverse("batch_export", args=[batch.pk, "csv"]))
    rows = list(
        csv.reader(
            io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    header, row = rows[0], rows[1]
    listed = row[header.index("Variantes à essayer")]
    assert "le jour et le mois de naissance inversés (Date de naissance : " in listed
    assert p.birth_date.strftime("%d/%m/%Y") in listed

    response = client.post(
        reverse("batch_variants", args=[batch.pk]), {"purpose": "relance des non-trouvés"}
    )
    assert response.status_code == 302
    variants_batch = Batch.objects.exclude(pk=batch.pk).get()
    assert variants_batch.label == "Variantes des non-trouvés — Cohorte"
    request = VerificationRequest.objects.get(batch=variants_batch)
    assert (request.variant_key, request.trigger) == ("day_month_swapped", Trigger.BATCH)
    run_until_done(request)
    claim.refresh_from_db()
    assert claim.verdict == Verdict.MISMATCH
    # Everything was tried: a second click finds nothing to do.
    response = client.post(
        reverse("batch_variants", args=[batch.pk]), {"purpose": "relance des non-trouvés"}
    )
    assert Batch.objects.count() == 2
