"""The clerk workspace's pages through the test client: what a clerk sees and can do."""

import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from sandbox.population import ScolariteOutcome
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.html import assert_same_region
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import ClaimKind, Source, Verdict
from verifications.models import Claim, SourceAlert, VerificationRequest
from verifications.services import verification_run


pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


# --- Applicant list -------------------------------------------------------------------------


def test_search_ignores_case_and_accents(clerk, clerk_client):
    ApplicantFactory(institution=clerk.institution, birth_name="LEFÈVRE", name_key="LEFEVRE EMMA")
    ApplicantFactory(institution=clerk.institution, birth_name="DURAND", name_key="DURAND LEO")
    ApplicantFactory(birth_name="LEFÈVRE", name_key="LEFEVRE EMMA")  # another institution
    page = clerk_client.get(reverse("applicant_list"), {"q": "lefevre"})
    assert "LEFÈVRE" in page.text
    assert "DURAND" not in page.text
    assert "1 candidat" in page.text


def test_search_by_ine_and_reference(clerk, clerk_client):
    ApplicantFactory(institution=clerk.institution, ine="123456789AB", file_reference="DOS-77")
    ApplicantFactory(institution=clerk.institution, file_reference="AUTRE-1")
    assert "DOS-77" in clerk_client.get(reverse("applicant_list"), {"q": "123456789ab"}).text
    by_ref = clerk_client.get(reverse("applicant_list"), {"q": "dos-7"}).text
    assert "DOS-77" in by_ref
    assert "AUTRE-1" not in by_ref


def test_filters_on_verdict_kind_and_needs_me(clerk, clerk_client):
    inst = clerk.institution
    ok = ClaimFactory(
        applicant=ApplicantFactory(institution=inst, file_reference="OK-1"), verdict="confirmed"
    )
    nf = ClaimFactory(
        applicant=ApplicantFactory(institution=inst, file_reference="NF-1"), verdict="not_found"
    )
    cvec = ClaimFactory(
        applicant=ApplicantFactory(institution=inst, file_reference="CV-1"),
        kind=ClaimKind.CVEC,
        declared={"code": "VER1ABCDEF", "campaign": None},
    )
    url = reverse("applicant_list")
    confirmed = clerk_client.get(url, {"verdict": "confirmed"}).text
    assert ok.applicant.file_reference in confirmed
    assert nf.applicant.file_reference not in confirmed
    needs_me = clerk_client.get(url, {"needs_me": "on"}).text
    assert "NF-1" in needs_me
    assert "OK-1" not in needs_me
    kind = clerk_client.get(url, {"kind": "cvec", "verdict": "unchecked"}).text
    assert cvec.applicant.file_reference in kind
    assert "OK-1" not in kind


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_list_query_count_is_the_same_with_10_and_100_rows(clerk, clerk_client, htmx):
    headers = {**HTMX, "HX-Target": "applicant-results"} if htmx else {}

    def count(n: int) -> int:
        for _ in range(n):
            ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
        with CaptureQueriesContext(connection) as queries:
            response = clerk_client.get(
                reverse("applicant_list"), {"sort": "recent"}, headers=headers
            )
        assert response.status_code == 200
        assert ("<html" in response.text) is not htmx
        return len(queries)

    assert count(10) == count(90)  # 10 applicants, then 100 (a full page of 50 and a second)


def test_htmx_results_are_the_same_region_as_the_full_page(clerk, clerk_client):
    for _ in range(3):
        ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution), verdict="confirmed")
    url = reverse("applicant_list")
    full = clerk_client.get(url, {"q": ""}).text
    fragment = clerk_client.get(url, {"q": ""}, headers={**HTMX, "HX-Target": "applicant-results"})
    assert "<html" not in fragment.text
    assert_same_region(fragment.text, full, "applicant-results")


def test_pagination(clerk, clerk_client):
    for _ in range(55):
        ApplicantFactory(institution=clerk.institution)
    page1 = clerk_client.get(reverse("applicant_list")).text
    assert "Page 1 sur 2" in page1
    page2 = clerk_client.get(reverse("applicant_list"), {"page": 2}).text
    assert page2.count("<tr>") == 5 + 1  # 5 rows and the header


@pytest.mark.parametrize("sort", ["nom", "-nom", "recent"])
def test_a_search_with_few_matches_is_sorted_from_them_in_the_same_order(
    clerk, clerk_client, monkeypatch, sort
):
    """Few matches: the page query sorts the matches (its first sort key, institution_id + 0,
    fits no index); many: it keeps the plain ordering. Same pages either way."""
    from admissions import selectors

    names = ["MARTIN", "MARTINEZ", "AMARANTE", "DUMAS", "MARCEAU", "LAMARQUE"]
    for i in range(90):
        name = names[i % len(names)]
        ApplicantFactory(institution=clerk.institution, birth_name=name, name_key=f"{name} X{i}")

    def pages(threshold: int) -> tuple[list[str], bool]:
        monkeypatch.setattr(selectors, "SORT_MATCHES_BELOW", threshold)
        seen, sorted_after = [], False
        for number in (1, 2):
            with CaptureQueriesContext(connection) as queries:
                html = clerk_client.get(
                    reverse("applicant_list"), {"q": "mar", "sort": sort, "page": number}
                ).text
            seen += re.findall(r'href="/candidats/(\d+)/"', html)
            page_sql = [q["sql"] for q in queries if "LIMIT" in q["sql"] and "ORDER BY" in q["sql"]]
            sorted_after |= any("+ 0" in sql.split("ORDER BY")[1] for sql in page_sql)
        return seen, sorted_after

    few, few_sorted_after = pages(10_000)
    many, many_sorted_after = pages(10)
    assert (few_sorted_after, many_sorted_after) == (True, False)
    # MARTIN, MARTINEZ, AMARANTE, MARCEAU, LAMARQUE: 75 of 90, on two pages.
    assert len(few) == len(set(few)) == 75
    assert few == many


# --- Creating and editing ---------------------------------------------------------------------


def test_create_applicant_with_claims(clerk, clerk_client):
    data = {
        "file_reference": "2026-001",
        "birth_name": "Martin",
        "first_name_1": "Emma",
        "sex": "F",
        "birth_date": "2012-08-15",
        "scolarite-uai": "0132733a",
        "scolarite-school_year": "2025-2026",
        "cvec-code": "",
    }
    response = clerk_client.post(reverse("applicant_create"), data)
    applicant = Applicant.objects.get(file_reference="2026-001")
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("applicant_detail", args=[applicant.pk])
    assert applicant.claims.get().declared == {"uai": "0132733A", "school_year": 2025}
    assert applicant.name_key == "MARTIN EMMA"
    assert (
        AuditEvent.objects.filter(applicant_id=applicant.pk, action=AuditAction.CREATED).count()
        == 2
    )


def test_create_shows_each_error_next_to_its_field_and_saves_nothing(clerk_client):
    data = {
        "file_reference": "2026-002",
        "birth_name": "Martin",
        "first_name_1": "Emma",
        "sex": "F",
        "birth_date": "2012-08-15",
        "ine": "123",
        "scolarite-uai": "0132733B",
        "scolarite-school_year": "2025",
    }
    response = clerk_client.post(reverse("applicant_create"), data)
    assert response.status_code == 200
    assert not Applicant.objects.exists()
    html = response.text
    assert "Le formulaire contient des erreurs" in html
    assert re.search(r'id="id_ine_error">\s*<li>L’INE|id="id_ine_error"><li>L&#x27;INE', html)
    assert 'id="id_scolarite-uai_error"' in html
    assert "la lettre de contrôle devrait être « A »" in html


def test_edit_identity(clerk, clerk_client):
    applicant = ApplicantFactory(
        institution=clerk.institution, first_names=["Emma"], birth_name="Martin"
    )
    data = {
        "file_reference": applicant.file_reference,
        "birth_name": "Martin",
        "usage_name": "Dupont",
        "first_name_1": "Emma",
        "sex": "F",
        "birth_date": applicant.birth_date.isoformat(),
    }
    response = clerk_client.post(reverse("applicant_edit", args=[applicant.pk]), data)
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.usage_name == "Dupont"
    assert "DUPONT" in applicant.name_key


# --- The applicant's page, its cards and decisions -----------------------------------------------


def test_opening_an_applicant_is_recorded_and_not_cached(clerk, clerk_client):
    claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
    response = clerk_client.get(reverse("applicant_detail", args=[claim.applicant_id]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action=AuditAction.VIEWED)
    assert (event.actor, event.applicant_id) == (clerk, claim.applicant_id)
    assert event.purpose


@pytest.mark.usefixtures("sandbox_settings")
def test_verify_button_starts_a_live_card_that_stops_polling_when_done(clerk, clerk_client):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, clerk.institution
    )
    response = clerk_client.post(reverse("claim_verify", args=[claim.pk]), headers=HTMX)
    assert response.status_code == 200
    assert 'hx-trigger="poll"' in response.text
    assert "Vérification en cours" in response.text
    request = VerificationRequest.objects.get(claim=claim)
    verification_run(request_id=request.pk)
    card = clerk_client.get(reverse("claim_card", args=[claim.pk]), headers=HTMX)
    assert 'hx-trigger="poll"' not in card.text
    assert "Confirmé" in card.text
    assert "L’élève est scolarisé" in card.text or "L&#x27;élève est scolarisé" in card.text
    page = clerk_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert_same_region(card.text, page, f"claim-{claim.pk}")


def test_card_query_count_does_not_depend_on_attempts(clerk, clerk_client):
    def count(attempts: int) -> int:
        claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
        request = VerificationRequest.objects.create(
            institution=clerk.institution,
            claim=claim,
            source=Source.API_PARTICULIER,
            trigger="manual",
            state="done",
            verdict=Verdict.UNAVAILABLE,
        )
        from verifications.models import VerificationAttempt

        for _ in range(attempts):
            VerificationAttempt.objects.create(
                request=request, source=request.source, outcome="unavailable"
            )
        with CaptureQueriesContext(connection) as queries:
            clerk_client.get(reverse("claim_card", args=[claim.pk]))
        return len(queries)

    assert count(1) == count(12)


def test_clerk_records_a_manual_verification_when_the_source_could_not_say(clerk, clerk_client):
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution), verdict=Verdict.NOT_FOUND
    )
    response = clerk_client.post(
        reverse("claim_manual", args=[claim.pk]),
        {
            "document": "certificat de scolarité 2025-2026",
            "justification": "signé du proviseur, reçu le 12/10",
        },
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.verdict == Verdict.MANUAL
    event = AuditEvent.objects.get(action=AuditAction.MANUALLY_VERIFIED, actor=clerk)
    assert event.details["from"] == Verdict.NOT_FOUND
    request = VerificationRequest.objects.get(claim=claim)
    assert request.reason_params == {"document": "certificat de scolarité 2025-2026"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"document": "certificat", "justification": "ok"}, "justification", "10 caractères"),
        ({"document": "", "justification": "reçu au guichet le 12/10"}, "document", "obligatoire"),
    ],
)
def test_a_refused_manual_verification_keeps_what_was_typed_on_its_card(
    clerk, clerk_client, data, field, message
):
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution), verdict=Verdict.UNAVAILABLE
    )
    other = ClaimFactory(applicant=claim.applicant, kind="cvec", declared={"code": "A1B2C3D4"})
    response = clerk_client.post(reverse("claim_manual", args=[claim.pk]), data)
    assert response.status_code == 400
    page = response.text
    claim.refresh_from_db()
    assert claim.verdict == Verdict.UNAVAILABLE
    assert not VerificationRequest.objects.exists()
    # The error sits on the field of this claim's card, which comes back open with the text.
    assert f'id="id_claim{claim.pk}_manual_{field}_error"' in page
    assert message in page
    for value in data.values():
        if value:
            assert value in page
    # Each card's fields have their own ids: the other card's labels point at its own fields.
    assert f'for="id_claim{other.pk}_manual_justification"' in page
    assert f'for="id_claim{other.pk}_override_justification"' not in page  # clerk: no override
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate ids on the applicant page"


def test_only_a_supervisor_overrides_a_verdict(client, clerk):
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution), verdict=Verdict.CONTRADICTED
    )
    data = {
        "verdict": "confirmed",
        "justification": "erreur de saisie de l'établissement corrigée",
        "confirm": "on",
    }
    client.force_login(clerk)
    assert client.post(reverse("claim_override", args=[claim.pk]), data).status_code == 403
    supervisor = UserFactory(institution=clerk.institution, supervisor=True)
    client.force_login(supervisor)
    assert client.post(reverse("claim_override", args=[claim.pk]), data).status_code == 302
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONFIRMED
    event = AuditEvent.objects.get(action=AuditAction.OVERRIDDEN)
    assert event.details["from"] == "contradicted"
    assert event.details["to"] == "confirmed"
    assert VerificationRequest.objects.get(claim=claim).reason_params == {"from": "contradicted"}


def test_an_override_starts_on_no_verdict_and_asks_for_confirmation(supervisor, supervisor_client):
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=supervisor.institution),
        verdict=Verdict.CONTRADICTED,
    )
    page = supervisor_client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    select = page[page.index(f'id="id_claim{claim.pk}_override_verdict"') :]
    select = select[: select.index("</select>")]
    assert '<option value="" selected>— Choisissez un verdict —</option>' in select
    assert f'id="id_claim{claim.pk}_override_confirm"' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate ids on the applicant page"
    typed = {"verdict": "confirmed", "justification": "pièce originale vue au guichet"}
    response = supervisor_client.post(reverse("claim_override", args=[claim.pk]), typed)
    assert response.status_code == 400
    assert "Cochez la case pour confirmer votre décision." in response.text
    assert "pièce originale vue au guichet" in response.text  # kept
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONTRADICTED
    assert not AuditEvent.objects.filter(action=AuditAction.OVERRIDDEN).exists()


# --- Dashboard ---------------------------------------------------------------------------------


def test_dashboard_shows_counts_health_and_alerts(clerk, clerk_client):
    ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution), verdict=Verdict.NOT_FOUND
    )
    SourceAlert.objects.create(
        institution=clerk.institution,
        source=Source.API_PARTICULIER,
        code="00101",
        http_status=401,
        last_seen="2026-11-23T10:00:00Z",
    )
    with time_machine.travel("2026-11-23 14:05:09 +00:00", tick=False):
        page = clerk_client.get(reverse("home")).text
    assert "<strong>1</strong> déclaration à traiter" in page
    # When the (shared, cached) counts were counted, in Paris time.
    assert (
        "Chiffres comptés à 15:05:09 ; ils sont recomptés au plus toutes les 30 secondes." in page
    )
    assert "État des sources" in page
    assert "code 00101" in page


def test_the_dashboards_verdict_table_ends_with_the_grand_total(clerk, clerk_client):
    """Its last cell, under "Total", was empty (seen on make run)."""
    for verdict in (Verdict.CONFIRMED, Verdict.NOT_FOUND, ""):
        ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution), verdict=verdict)
    ClaimFactory(applicant=ApplicantFactory(institution=InstitutionFactory()))  # not ours
    page = clerk_client.get(reverse("home")).text
    assert '<td class="num" id="verdicts-grand-total">3</td>' in page


# --- Tenant isolation ---------------------------------------------------------------------------


def test_every_route_answers_404_for_another_institutions_objects(clerk_client):
    other = InstitutionFactory()
    claim = ClaimFactory(applicant=ApplicantFactory(institution=other))
    gets = [
        reverse("applicant_detail", args=[claim.applicant_id]),
        reverse("applicant_edit", args=[claim.applicant_id]),
        reverse("claim_add", args=[claim.applicant_id, "cvec"]),
        reverse("claim_edit", args=[claim.pk]),
        reverse("claim_card", args=[claim.pk]),
    ]
    posts = [
        reverse("claim_verify", args=[claim.pk]),
        reverse("claim_manual", args=[claim.pk]),
        reverse("applicant_edit", args=[claim.applicant_id]),
    ]
    for url in gets:
        assert clerk_client.get(url).status_code == 404, url
    for url in posts:
        assert clerk_client.post(url, {"justification": "x" * 20}).status_code == 404, url
    assert not VerificationRequest.objects.exists()
    assert Claim.objects.get(pk=claim.pk).verdict == ""


def test_list_rows_show_usage_name_and_no_claims_and_escape_what_they_show(clerk, clerk_client):
    ApplicantFactory(
        institution=clerk.institution,
        file_reference="R<1>",
        birth_name="O'NEIL <B>",
        usage_name="DUPONT & FILS",
        first_names=["Zoé", "Anne"],
        ine="",
    )
    page = clerk_client.get(reverse("applicant_list")).text
    reference = ">R&lt;1&gt;</a></td>"
    assert (
        reference + '<td>O&#x27;NEIL &lt;B&gt; <span class="muted">(DUPONT &amp; FILS)</span>'
        in page
    )
    assert "<td>Zoé, Anne</td>" in page
    assert "<td>—</td>" in page  # no INE
    assert '<td class="claims"><span class="muted">aucune</span></td>' in page
