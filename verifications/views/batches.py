"""Pages of batch verification: the batches list, choosing a cohort and confirming its launch,
a batch's live progress (an htmx-polled fragment), pause/resume, re-running what failed, and
downloading the results.

Members of the institution see batches; launching, pausing, resuming, re-running and
downloading results are a supervisor's, except verifying an import's claims, which a clerk may
do for an import they made (docs/DESIGN.md §Users and roles).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admissions import selectors as admissions_selectors
from admissions.access import HtmxHttpRequest, member_required, supervisor_required
from admissions.infra import exports
from admissions.infra.client_address import client_ip
from verifications import results, selectors
from verifications.access import import_verification_allowed
from verifications.enums import BatchKind
from verifications.forms import BatchCohortForm
from verifications.services import batches as batch_services
from verifications.services import certificates as certificate_services
from verifications.services import exports as export_services
from verifications.services import rematch as rematch_services
from verifications.views.polling import csrf_secret, poll_answer


PAGE_SIZE = 50


def _import_batches(request: HtmxHttpRequest):
    return selectors.batches_for_user(request.user).filter(kind=BatchKind.IMPORT)[:200]


@require_GET
@member_required
def batch_list(request: HtmxHttpRequest) -> HttpResponse:
    batches = selectors.batches_for_user(request.user).select_related("created_by", "import_batch")
    page = Paginator(batches, PAGE_SIZE).get_page(request.GET.get("page"))
    progress = selectors.batch_progress_many(user=request.user, batches=list(page.object_list))
    rows = [(batch, progress.get(batch.pk)) for batch in page.object_list]
    return render(request, "verifications/batch_list.html", {"page": page, "rows": rows})


def _cohort_form(request: HtmxHttpRequest, data) -> BatchCohortForm:
    return BatchCohortForm(data, import_batches=_import_batches(request))


@require_GET
@supervisor_required
def batch_new(request: HtmxHttpRequest) -> HttpResponse:
    """Choose the cohort; its fields come pre-filled from the applicant list's filters."""
    form = _cohort_form(request, request.GET or None)
    if request.GET:
        form.is_valid()  # show errors of a hand-made URL next to their fields
    return render(request, "verifications/batch_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@supervisor_required
def batch_launch(request: HtmxHttpRequest) -> HttpResponse:
    """GET: what the launch would do (checks per source, ETA). POST: launch it."""
    data = request.POST if request.method == "POST" else request.GET
    form = _cohort_form(request, data)
    if not form.is_valid():
        return render(request, "verifications/batch_new.html", {"form": form}, status=400)
    claims = selectors.cohort_claims(user=request.user, **form.cohort())
    if request.method == "POST":
        # The checks are written by a worker (40,000 of them take seconds): the batch's page
        # shows the preparation, then the checks.
        try:
            batch = batch_services.batch_verification_start(
                acting_user=request.user,
                cohort=form.cohort(),
                label=form.cleaned_data.get("label", ""),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                ngettext(
                    "Lot lancé : %(n)s déclaration à préparer.",
                    "Lot lancé : %(n)s déclarations à préparer.",
                    batch.to_prepare,
                )
                % {"n": batch.to_prepare},
            )
            return redirect("batch_detail", batch_id=batch.pk)
    summary = selectors.cohort_summary(user=request.user, claims=claims)
    context = {"form": form, "summary": summary, "query": data.urlencode()}
    return render(request, "verifications/batch_confirm.html", context)


@require_POST
@member_required
def import_verify(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """ "Vérifier les déclarations importées": the import's claims not yet checked, in a
    verification batch whose page follows its progress. A clerk may for an import they made, a
    supervisor for any (``import_verification_allowed``); others get 403."""
    batch = _batch_or_404(request, batch_id)
    if batch.kind != BatchKind.IMPORT:
        raise Http404
    if not import_verification_allowed(request.user, batch):
        raise PermissionDenied
    try:
        # Written by a worker, as a cohort's batch: the page follows the preparation.
        launched = batch_services.import_verification_start(
            batch=batch, acting_user=request.user, ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
        return redirect("batch_detail", batch_id=batch.pk)
    messages.success(
        request,
        ngettext(
            "Vérification lancée : %(n)s déclaration à vérifier.",
            "Vérification lancée : %(n)s déclarations à vérifier.",
            launched.to_prepare,
        )
        % {"n": launched.to_prepare},
    )
    return redirect("batch_detail", batch_id=launched.pk)


def _batch_or_404(request: HtmxHttpRequest, batch_id: int):
    return selectors.batch_get_for_user(user=request.user, batch_id=batch_id)


def _progress_context(request: HtmxHttpRequest, batch) -> dict:
    progress, etag = None, ""
    if batch.kind == BatchKind.VERIFICATION:
        progress = selectors.batch_progress(user=request.user, batch=batch, with_eta=True)
        etag = selectors.batch_progress_etag(
            user=request.user, progress=progress, extra=csrf_secret(request)
        )
    return {"batch": batch, "progress": progress, "progress_etag": etag}


def _archives_context(request: HtmxHttpRequest, batch) -> dict:
    if not request.user.is_supervisor or batch.kind != BatchKind.VERIFICATION:
        return {}
    archives = selectors.certificate_archives_for_batch(user=request.user, batch=batch)
    under_way = any(a.state in ("pending", "running") for a in archives)
    return {"archives": archives, "archives_under_way": under_way}


@require_GET
@member_required
def batch_detail(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    context = {
        **_progress_context(request, batch),
        **_archives_context(request, batch),
        **_exports_context(request, batch),
    }
    if batch.kind == BatchKind.IMPORT:
        context["applicant_count"] = admissions_selectors.applicant_search(
            user=request.user, batch_id=batch.pk
        ).count()
        context["import_verifiable"] = import_verification_allowed(
            request.user, batch
        ) and selectors.import_has_unchecked_claims(user=request.user, batch=batch)
        context["import_verification"] = selectors.import_verification_latest(
            user=request.user, batch=batch
        )
    return render(request, "verifications/batch_detail.html", context)


@require_GET
@member_required
def batch_progress(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """The progress panel alone: what the batch page polls while the batch runs
    (``static/js/poll.js``, as the claim cards): ``304 Not Modified`` when the panel would be
    the one the page shows (its ``If-None-Match``), rendered otherwise."""
    batch = _batch_or_404(request, batch_id)
    if batch.kind != BatchKind.VERIFICATION:
        raise Http404
    context = _progress_context(request, batch)
    return poll_answer(
        request,
        context["progress_etag"],
        lambda: render(request, "verifications/batch_detail.html#batch-progress", context),
    )


def _verification_batch_or_404(request: HtmxHttpRequest, batch_id: int):
    batch = _batch_or_404(request, batch_id)
    if batch.kind != BatchKind.VERIFICATION:
        raise Http404
    return batch


@require_POST
@supervisor_required
def batch_pause(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    batch = _verification_batch_or_404(request, batch_id)
    if batch_services.batch_pause(batch=batch, acting_user=request.user, ip=client_ip(request)):
        messages.info(
            request,
            _("Lot en pause : les vérifications en cours se terminent, les autres attendent."),
        )
    return redirect("batch_detail", batch_id=batch.pk)


@require_POST
@supervisor_required
def batch_resume(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    batch = _verification_batch_or_404(request, batch_id)
    if batch_services.batch_resume(batch=batch, acting_user=request.user, ip=client_ip(request)):
        messages.info(request, _("Lot repris."))
    return redirect("batch_detail", batch_id=batch.pk)


@require_POST
@supervisor_required
def batch_rerun_failed(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    batch = _verification_batch_or_404(request, batch_id)
    created = batch_services.batch_rerun_failed(
        batch=batch, acting_user=request.user, ip=client_ip(request)
    )
    if created:
        messages.success(
            request,
            ngettext("%(n)s vérification relancée.", "%(n)s vérifications relancées.", created)
            % {"n": created},
        )
    else:
        messages.info(request, _("Aucun échec à relancer."))
    return redirect("batch_detail", batch_id=batch.pk)


@require_POST
@supervisor_required
def batch_variants(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """Try, in a new batch, the proposed identity variants of the claims this batch's sources
    did not find."""
    batch = _verification_batch_or_404(request, batch_id)
    try:
        new_batch = rematch_services.batch_variants_launch(
            batch=batch,
            acting_user=request.user,
            purpose=request.POST.get("purpose", ""),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("batch_detail", batch_id=batch.pk)
    if new_batch is None:
        messages.info(request, _("Aucune variante à essayer : elles l'ont toutes été."))
        return redirect("batch_detail", batch_id=batch.pk)
    messages.success(
        request,
        ngettext(
            "%(n)s variante envoyée dans un nouveau lot.",
            "%(n)s variantes envoyées dans un nouveau lot.",
            new_batch.total,
        )
        % {"n": new_batch.total},
    )
    return redirect("batch_detail", batch_id=new_batch.pk)


@require_GET
@supervisor_required
def batch_export(
    request: HtmxHttpRequest, batch_id: int, file_format: str
) -> StreamingHttpResponse:
    """The batch's results as CSV, streamed (the first bytes leave at once, whatever the
    batch's size), formulas neutralised in every cell; the download is recorded in the audit
    trail. The XLSX is written in the background (``batch_exports``)."""
    batch = _verification_batch_or_404(request, batch_id)
    if file_format != "csv":
        raise Http404
    requests = selectors.batch_result_requests(user=request.user, batch=batch)
    batch_services.batch_results_exported(
        batch=batch,
        acting_user=request.user,
        file_format=file_format,
        rows=requests.count(),
        ip=client_ip(request),
    )
    filename = f"vigie-lot-{batch.pk}-resultats.{file_format}"
    response = StreamingHttpResponse(
        exports.csv_stream(
            results.result_headers(), results.result_rows(request.user, requests.iterator(2000))
        ),
        content_type=exports.CSV_CONTENT_TYPE,
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _exports_context(request: HtmxHttpRequest, batch) -> dict:
    if not request.user.is_supervisor or batch.kind != BatchKind.VERIFICATION:
        return {}
    found = selectors.batch_exports_for_batch(user=request.user, batch=batch)
    under_way = any(e.state in ("pending", "running") for e in found)
    return {
        "batch_exports": found,
        "exports_under_way": under_way,
        "export_retention_hours": settings.VIGIE_EXPORT_RETENTION_HOURS,
    }


@require_http_methods(["GET", "POST"])
@supervisor_required
def batch_exports(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """POST: ask for the batch's results as XLSX, written by a worker; GET: the exports panel
    alone, which the batch page polls while one is being written (as the certificates')."""
    batch = _verification_batch_or_404(request, batch_id)
    if request.method == "POST":
        try:
            export_services.batch_export_request(
                batch=batch, acting_user=request.user, language=get_language() or "fr"
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.info(
                request,
                _("Le fichier de résultats est en préparation : le lien apparaît ci-dessous."),
            )
        return redirect("batch_detail", batch_id=batch.pk)
    return render(
        request,
        "verifications/batch_detail.html#batch-exports",
        {"batch": batch, **_exports_context(request, batch)},
    )


@require_GET
@supervisor_required
def batch_export_download(request: HtmxHttpRequest, batch_id: int, export_id: int) -> FileResponse:
    """A results file written in the background, while it is kept; the download is audited."""
    batch = _verification_batch_or_404(request, batch_id)
    export = get_object_or_404(
        selectors.batch_exports_of_batch(user=request.user, batch=batch),
        pk=export_id,
        state="done",
        expired_at__isnull=True,
    )
    export_services.batch_export_downloaded(
        export=export, acting_user=request.user, ip=client_ip(request)
    )
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"vigie-lot-{batch.pk}-resultats.{export.file_format}",
        content_type=exports.XLSX_CONTENT_TYPE,
    )


# --- Certificates of a batch ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@supervisor_required
def batch_certificates(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """POST: ask for the batch's certificates as a ZIP; GET: the archives panel alone, which
    the batch page polls while one is being built."""
    batch = _verification_batch_or_404(request, batch_id)
    if request.method == "POST":
        language = request.POST.get("langue", "fr")
        if language not in ("fr", "en"):
            language = "fr"
        try:
            certificate_services.certificate_archive_request(
                batch=batch,
                acting_user=request.user,
                language=language,
                verify_url=request.build_absolute_uri(reverse("certificate_public")),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.info(
                request, _("Les certificats sont en préparation : le lien apparaît ci-dessous.")
            )
        return redirect("batch_detail", batch_id=batch.pk)
    return render(
        request,
        "verifications/batch_detail.html#certificate-archives",
        {"batch": batch, **_archives_context(request, batch)},
    )


@require_GET
@supervisor_required
def certificate_archive_download(
    request: HtmxHttpRequest, batch_id: int, archive_id: int
) -> FileResponse:
    batch = _verification_batch_or_404(request, batch_id)
    archive = get_object_or_404(
        selectors.certificate_archives_of_batch(user=request.user, batch=batch),
        pk=archive_id,
        state="done",
    )
    certificate_services.certificate_archive_downloaded(
        archive=archive, acting_user=request.user, ip=client_ip(request)
    )
    return FileResponse(
        archive.file.open("rb"),
        as_attachment=True,
        filename=f"vigie-lot-{batch.pk}-certificats-{archive.language}.zip",
        content_type="application/zip",
    )
