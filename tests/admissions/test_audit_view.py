"""The institution-wide audit view and its exports, the applicant timeline's who / what /
when / where / why, and session expiry seen from htmx and from a full page."""

import csv
import datetime as dt
import io
import re
from importlib import import_module

import openpyxl
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from admissions import services
from admissions.audit import AuditEntry, audit_record, audit_record_many
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from tests.html import assert_same_region, region
from verifications.enums import ClaimKind, Verdict
from verifications.services import claim_override_verdict, claim_verify_manually
from verifications.services import claims as claim_services


pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
PASSWORD = "un mot de passe solide"


def _events(user, n: int, *, action=AuditAction.VIEWED, applicant_id=None) -> None:
    audit_record_many(
        actor=user,
        institution=user.institution,
        entries=[
            AuditEntry(
                action=action, object_type="applicant", object_id=i, applicant_id=applicant_id
            )
            for i in range(n)
        ],
        ip="10.0.0.7",
    )


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="audit-(\w+)">', region(html, "audit-results"))


# --- Who may see it -------------------------------------------------------------------------


def test_a_clerk_gets_the_403_page_for_the_view_and_the_exports(client):
    client.force_login(UserFactory())
    for url in (
        reverse("audit_list"),
        reverse("audit_export", args=["csv"]),
        reverse("audit_export", args=["xlsx"]),
    ):
        response = client.get(url)
        assert response.status_code == 403
        assert "Accès refusé" in response.text
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()


def test_the_top_navigation_links_the_audit_view_for_supervisors_only(client, supervisor):
    client.force_login(supervisor)
    assert reverse("audit_list") in client.get(reverse("home")).text
    client.force_login(UserFactory(institution_admin=True))
    assert reverse("audit_list") in client.get(reverse("home")).text
    client.force_login(UserFactory())
    assert reverse("audit_list") not in client.get(reverse("home")).text


def test_an_institution_admin_sees_the_view(client):
    admin = UserFactory(institution_admin=True)
    client.force_login(admin)
    assert client.get(reverse("audit_list")).status_code == 200


def test_only_the_institutions_events_newest_first(supervisor, supervisor_client):
    applicant = ApplicantFactory(institution=supervisor.institution, file_reference="DOS-A")
    audit_record(
        action=AuditAction.CREATED,
        actor=supervisor,
        institution=supervisor.institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip="192.0.2.1",
    )
    audit_record(
        action=AuditAction.VIEWED,
        actor=supervisor,
        institution=supervisor.institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip="192.0.2.2",
        purpose="instruction",
    )
    stranger = UserFactory(supervisor=True)
    foreign = ApplicantFactory(institution=stranger.institution, file_reference="DOS-ETRANGER")
    audit_record(
        action=AuditAction.EDITED,
        actor=stranger,
        institution=stranger.institution,
        obj=foreign,
        applicant_id=foreign.pk,
    )
    page = supervisor_client.get(reverse("audit_list"))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert _rows(page.text)[:2] == ["viewed", "created"]
    assert "edited" not in _rows(page.text)
    assert "DOS-ETRANGER" not in page.text
    results = region(page.text, "audit-results")
    assert "DOS-A" in results
    assert "192.0.2.2" in results
    assert "instruction" in results
    assert supervisor.username in results


# --- Filters ----------------------------------------------------------------------------------


def test_filters_by_action_actor_object_type_and_file_reference(supervisor, supervisor_client):
    clerk = UserFactory(institution=supervisor.institution)
    applicant = ApplicantFactory(institution=supervisor.institution, file_reference="DOS-42")
    _events(clerk, 2, action=AuditAction.VIEWED, applicant_id=applicant.pk)
    _events(supervisor, 3, action=AuditAction.EDITED)
    audit_record(
        action=AuditAction.CREATED,
        actor=supervisor,
        institution=supervisor.institution,
        object_type="batch",
        object_id=1,
    )
    url = reverse("audit_list")
    assert _rows(supervisor_client.get(url, {"action": "edited"}).text) == ["edited"] * 3
    assert _rows(supervisor_client.get(url, {"actor": clerk.pk}).text) == ["viewed"] * 2
    assert _rows(supervisor_client.get(url, {"object_type": "batch"}).text) == ["created"]
    assert _rows(supervisor_client.get(url, {"file_reference": "DOS-42"}).text) == ["viewed"] * 2
    # An unknown reference, or another institution's, matches nothing (not everything).
    other = ApplicantFactory(file_reference="DOS-43")
    _events(UserFactory(institution=other.institution), 1, applicant_id=other.pk)
    for reference in ("DOS-NULLE-PART", "DOS-43"):
        page = supervisor_client.get(url, {"file_reference": reference})
        assert _rows(page.text) == []
        assert "Aucun événement ne correspond." in page.text


def test_filters_by_date_range_in_local_days(supervisor, supervisor_client, time_machine):
    for day in (1, 2, 3):
        time_machine.move_to(timezone.make_aware(dt.datetime(2026, 9, day, 23, 30)), tick=False)
        if True:
            audit_record(
                action=AuditAction.VIEWED,
                actor=supervisor,
                institution=supervisor.institution,
                object_type="applicant",
                object_id=day,
            )
    url = reverse("audit_list")
    page = supervisor_client.get(url, {"date_from": "2026-09-02", "date_to": "2026-09-02"})
    assert re.findall(r"#(\d)</span>", region(page.text, "audit-results")) == ["2"]
    page = supervisor_client.get(url, {"date_from": "02/09/2026"})
    assert re.findall(r"#(\d)</span>", region(page.text, "audit-results")) == ["3", "2"]
    page = supervisor_client.get(url, {"date_from": "2026-09-03", "date_to": "2026-09-01"})
    assert "La date de fin précède la date de début." in page.text


# --- Pages ----------------------------------------------------------------------------------


def test_keyset_pages_cover_every_event_once_even_with_equal_timestamps(
    supervisor, supervisor_client
):
    _events(supervisor, 120)  # one timestamp for all: pages must split on the id
    seen = []
    url = reverse("audit_list")
    params = {"action": "viewed"}
    for _page in range(5):
        results = region(supervisor_client.get(url, params).text, "audit-results")
        seen += re.findall(r"#(\d+)</span>", results)
        after = re.search(r"apres=([\d.]+)", results)
        if not after:
            break
        params = {"action": "viewed", "apres": after.group(1)}
    assert len(seen) == 120
    assert sorted(map(int, seen)) == list(range(120))
    assert seen[0] == "119"  # the newest (last written) first


def test_a_garbled_cursor_starts_from_the_newest(supervisor, supervisor_client):
    _events(supervisor, 3)
    for garbled in ("x.y", "1.99999999999999999999999", "99999999999999999999999.1", "1"):
        page = supervisor_client.get(reverse("audit_list"), {"apres": garbled})
        assert page.status_code == 200
        assert len(_rows(page.text)) == 3
    page = supervisor_client.get(reverse("audit_list"), {"date_to": "9999-12-31"})
    assert len(_rows(page.text)) == 3


@pytest.mark.parametrize("target", ["page", "fragment"])
def test_query_count_does_not_depend_on_the_number_of_events(
    supervisor, supervisor_client, django_assert_max_num_queries, target
):
    """The same number of queries with 10 events and with 100 (page size 50)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    applicant = ApplicantFactory(institution=supervisor.institution)
    headers = {"HX-Request": "true", "HX-Target": "audit-results"} if target == "fragment" else {}
    counts = []
    for n in (10, 90):
        _events(supervisor, n, applicant_id=applicant.pk)
        with CaptureQueriesContext(connection) as queries:
            response = supervisor_client.get(reverse("audit_list"), headers=headers)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_htmx_fragment_is_the_same_region_as_the_full_page(supervisor, supervisor_client):
    applicant = ApplicantFactory(institution=supervisor.institution)
    _events(supervisor, 60, applicant_id=applicant.pk)
    params = {"action": "viewed"}
    full = supervisor_client.get(reverse("audit_list"), params).text
    fragment = supervisor_client.get(
        reverse("audit_list"), params, headers={"HX-Request": "true", "HX-Target": "audit-results"}
    ).text
    assert "<html" not in fragment
    assert_same_region(fragment, full, "audit-results")


# --- Exports --------------------------------------------------------------------------------


def test_csv_export_of_the_filtered_events_is_recorded_with_its_filters(
    supervisor, supervisor_client
):
    applicant = ApplicantFactory(institution=supervisor.institution, file_reference="=DOS-1")
    _events(supervisor, 3, action=AuditAction.VIEWED, applicant_id=applicant.pk)
    _events(supervisor, 2, action=AuditAction.EDITED)
    response = supervisor_client.get(
        reverse("audit_export", args=["csv"]),
        {"action": "viewed", "date_from": "2020-01-01"},
        REMOTE_ADDR="198.51.100.9",
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="journal-audit-' in response.headers["Content-Disposition"]
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    assert rows[0][:3] == ["Date", "Acteur", "Action"]
    assert len(rows) == 4
    assert {row[2] for row in rows[1:]} == {"Consultation"}
    assert {row[5] for row in rows[1:]} == {"'=DOS-1"}  # formula neutralised
    export = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert export.actor == supervisor
    assert export.ip == "198.51.100.9"
    assert export.details["format"] == "csv"
    assert export.details["filters"] == {"action": "viewed", "date_from": "2020-01-01"}
    assert export.applicant_id is None


def test_xlsx_export_of_one_file_lands_on_that_applicants_timeline(supervisor, supervisor_client):
    applicant = ApplicantFactory(institution=supervisor.institution, file_reference="DOS-7")
    _events(supervisor, 2, applicant_id=applicant.pk)
    response = supervisor_client.get(
        reverse("audit_export", args=["xlsx"]), {"file_reference": "DOS-7"}
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][0] == "Date"
    # The export's own event comes first: it is recorded before the rows are read.
    assert [row[2] for row in values[1:]] == ["Export", "Consultation", "Consultation"]
    assert isinstance(values[1][0], dt.datetime)
    assert {row[5] for row in values[1:]} == {"DOS-7"}
    export = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert export.applicant_id == applicant.pk
    assert export.details["filters"] == {"file_reference": "DOS-7"}
    detail = supervisor_client.get(reverse("applicant_detail", args=[applicant.pk])).text
    assert "Export" in detail


def test_an_unknown_export_format_is_404(supervisor_client):
    assert supervisor_client.get(reverse("audit_export", args=["pdf"])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()


def test_the_export_service_refuses_a_clerk():
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.audit_export_record(
            acting_user=UserFactory(), export_format="csv", filters={}, row_limit=10
        )


# --- The applicant timeline: who, what, when, from where, why --------------------------------


def test_the_timeline_shows_who_what_when_where_and_why(client, supervisor):
    clerk = UserFactory(institution=supervisor.institution)
    client.force_login(clerk)
    response = client.post(
        reverse("applicant_create"),
        {
            "file_reference": "DOS-T1",
            "birth_name": "MARTIN",
            "first_name_1": "EMMA",
            "sex": "F",
            "birth_date": "2008-08-15",
            "scolarite-uai": "0132733A",
            "scolarite-school_year": "2025",
        },
        REMOTE_ADDR="203.0.113.5",
    )
    assert response.status_code == 302, response.content
    applicant = clerk.institution.applicants.get(file_reference="DOS-T1")
    claim = applicant.claims.get()
    claim_verify_manually(
        claim=claim,
        acting_user=supervisor,
        document="Certificat de scolarité",
        justification="Certificat de scolarité vu au guichet",
        ip="203.0.113.6",
    )
    claim_override_verdict(
        claim=claim,
        acting_user=supervisor,
        verdict=Verdict.CONTRADICTED,
        justification="Le certificat présenté était celui de l'an dernier",
        ip="203.0.113.7",
    )
    # The clerk's own page after their save is no consultation; a colleague's view is one, and
    # people appear by name (by username when they have none).
    colleague = UserFactory(
        institution=clerk.institution, first_name="Marie", last_name="Dupont", username="mdupont"
    )
    client.force_login(colleague)
    page = client.get(reverse("applicant_detail", args=[applicant.pk]), REMOTE_ADDR="203.0.113.8")
    timeline = region(page.text, "timeline-list")
    assert "mdupont" not in timeline
    for expected in (
        "Création",
        "Vérification manuelle",
        "Verdict modifié",
        "Consultation",
        "Marie Dupont",
        clerk.username,
        supervisor.username,
        "203.0.113.5",
        "203.0.113.6",
        "203.0.113.7",
        "203.0.113.8",
        "motif : Certificat de scolarité vu au guichet",
        "Le certificat présenté était celui de l",
        "Non vérifié → Vérifié manuellement",
        "Vérifié manuellement → Contredit",
        "finalité : instruction du dossier d",  # the purpose of a view
    ):
        assert expected in timeline, expected
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', timeline)


# --- Session expiry -------------------------------------------------------------------------


def _expire_session(client) -> None:
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value).delete()


def test_an_expired_session_sends_a_polling_card_to_the_login_page_in_full(client):
    clerk = UserFactory()
    claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
    assert (
        client.post(
            reverse("login"), {"username": clerk.username, "password": PASSWORD}
        ).status_code
        == 302
    )
    page = reverse("applicant_detail", args=[claim.applicant_id])
    _expire_session(client)
    response = client.get(
        reverse("claim_card", args=[claim.pk]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"{reverse('login')}?next={page}"
    assert "Connexion à Vigie" not in response.text  # nothing to swap into the card
    login = client.get(response.headers["HX-Redirect"])
    assert "Votre session a expiré" in login.text


def test_an_expired_session_on_a_full_page_redirects_to_login_with_next_and_says_why(client):
    clerk = UserFactory()
    client.post(reverse("login"), {"username": clerk.username, "password": PASSWORD})
    _expire_session(client)
    response = client.get(reverse("applicant_list"), {"q": "martin"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{reverse('login')}?next=/candidats/%3Fq%3Dmartin"
    login = client.get(response.headers["Location"])
    assert "Votre session a expiré : reconnectez-vous pour continuer." in login.text
    assert 'name="next" value="/candidats/?q=martin"' in login.text


def test_a_visitor_who_never_signed_in_is_not_told_their_session_expired(client):
    response = client.get(reverse("home"), follow=True)
    assert "Connexion à Vigie" in response.text
    assert "session a expiré" not in response.text


def test_an_htmx_post_after_expiry_is_redirected_too(client):
    clerk = UserFactory()
    claim = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution))
    client.post(reverse("login"), {"username": clerk.username, "password": PASSWORD})
    _expire_session(client)
    response = client.post(reverse("claim_verify", args=[claim.pk]), headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith(reverse("login") + "?next=")


def test_the_timeline_names_the_fields_an_edit_changed(client):
    clerk = UserFactory()
    applicant = ApplicantFactory(institution=clerk.institution)
    services.applicant_update(
        acting_user=clerk, applicant=applicant, changes={"usage_name": "DUPONT"}, ip="192.0.2.9"
    )
    client.force_login(clerk)
    timeline = region(
        client.get(reverse("applicant_detail", args=[applicant.pk])).text, "timeline-list"
    )
    assert "Modification" in timeline
    assert "nom d&#x27;usage" in timeline
    assert "192.0.2.9" in timeline


def test_exporting_another_institutions_file_exports_nothing(supervisor, supervisor_client):
    foreign = ApplicantFactory(file_reference="DOS-AILLEURS")
    _events(UserFactory(institution=foreign.institution), 3, applicant_id=foreign.pk)
    response = supervisor_client.get(
        reverse("audit_export", args=["csv"]), {"file_reference": "DOS-AILLEURS"}
    )
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert rows[1:] == []  # an unknown reference in this institution: nothing, not everything
    export = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert export.institution == supervisor.institution
    assert export.applicant_id is None


def test_a_supervisor_goes_from_the_applicant_page_to_its_audit_trail(client, supervisor):
    applicant = ApplicantFactory(institution=supervisor.institution, file_reference="DOS 8/9")
    client.force_login(supervisor)
    page = client.get(reverse("applicant_detail", args=[applicant.pk])).text
    link = f"{reverse('audit_list')}?file_reference=DOS%208/9"
    assert link in page
    assert _rows(client.get(link).text) == ["viewed"]
    client.force_login(UserFactory(institution=supervisor.institution))
    assert (
        reverse("audit_list")
        not in client.get(reverse("applicant_detail", args=[applicant.pk])).text
    )


def test_the_timeline_names_a_claims_edited_field_as_its_form_does(client):
    clerk = UserFactory()
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution),
        kind=ClaimKind.CVEC,
        declared={"code": "VER1ABCDEF12AB", "campaign": None},
    )
    claim_services.claim_update_declared(
        acting_user=clerk, claim=claim, declared={"code": "VER1ABCDEF12CD"}
    )
    client.force_login(clerk)
    timeline = region(
        client.get(reverse("applicant_detail", args=[claim.applicant_id])).text, "timeline-list"
    )
    assert "Numéro d&#x27;attestation CVEC" in timeline


def test_a_batchs_pause_and_resume_are_their_own_actions_on_the_page_and_in_the_exports(
    supervisor, supervisor_client
):
    """Both were "Modification Lot #4" (issue 15): they say "Mise en pause" and "Reprise" in the
    action column, the filter and both exports, events written as edits before included."""
    from verifications.models import Batch
    from verifications.services.batches import (
        batch_pause,
        batch_resume,
        batch_verification_launch,
    )

    claim = ClaimFactory(applicant__institution=supervisor.institution)
    batch = batch_verification_launch(acting_user=supervisor, claims=[claim])
    batch_pause(batch=batch, acting_user=supervisor)
    batch_resume(batch=Batch.objects.get(pk=batch.pk), acting_user=supervisor)
    # An event of before: a pause written as an edit of the batch.
    audit_record(
        action=AuditAction.EDITED,
        actor=supervisor,
        institution=supervisor.institution,
        obj=batch,
        object_type="batch",
        details={"change": "paused"},
    )

    page = supervisor_client.get(reverse("audit_list"), {"object_type": "batch"}).text
    cells = re.findall(r"<tr class=\"audit-\w+\">.*?</td>\s*<td>.*?</td>\s*<td>([^<]*)", page, re.S)
    actions = [cell.strip() for cell in cells]
    assert actions.count("Mise en pause") == 2, actions
    assert actions.count("Reprise") == 1, actions
    assert "Modification" not in actions
    paused = supervisor_client.get(reverse("audit_list"), {"action": "batch_paused"}).text
    assert len(_rows(paused)) == 2
    assert "Mise en pause" in paused  # the filter offers it

    response = supervisor_client.get(
        reverse("audit_export", args=["csv"]), {"object_type": "batch"}
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    column = [row[2] for row in csv.reader(io.StringIO(text), delimiter=";")][1:]
    assert (column.count("Mise en pause"), column.count("Reprise")) == (2, 1), column
    # In English, the same words in English.
    supervisor_client.cookies["django_language"] = "en"
    response = supervisor_client.get(
        reverse("audit_export", args=["xlsx"]), {"object_type": "batch"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    column = [row[2] for row in list(sheet.values)[1:]]
    assert (column.count("Pause"), column.count("Resume")) == (2, 1), column
