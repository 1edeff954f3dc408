"""Pages of the CSV import: the template, the upload, the preview, and the import itself.

Upload → the file is copied to disk in chunks (``import_stage``), then read from there and
validated (``parse_import``, in chunks too); a file refused whole (size,
encoding, header...) is sent back with its reasons and nothing is kept. Otherwise it is staged
server-side (``import_stage``: the browser only holds a token) and the preview lists every
invalid line by line and column, with counts and a sample of the valid lines. "Importer"
(only offered with zero errors) reads and validates the staged file again and stores all of
it or nothing (``import_commit_staged``); "Annuler" forgets it.
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admissions.access import HtmxHttpRequest, member_institution, member_required
from admissions.infra.client_address import client_ip
from admissions.infra.exports import CSV_CONTENT_TYPE
from admissions.infra.text_input import PlainTextForm
from verifications.enums import ClaimKind
from verifications.imports import (
    COLUMNS,
    ISSUES_SHOWN,
    REQUIRED_COLUMNS,
    ImportRefused,
    ImportReport,
    StagedImportExpired,
    StagedImportNotFound,
    import_commit_staged,
    import_discard,
    import_load,
    import_max_bytes,
    import_max_rows,
    import_stage,
    import_template_csv,
    parse_import,
)


# Valid lines shown in the preview.
SAMPLE_ROWS = 10


class ImportUploadForm(PlainTextForm, forms.Form):
    file = forms.FileField(
        # An empty file is refused by parse_import, with the import's own message.
        allow_empty_file=True,
        label=gettext_lazy("Fichier CSV"),
        help_text=gettext_lazy(
            "UTF-8 (avec ou sans BOM) ou Windows-1252, séparateur « ; » ou « , », "
            "une ligne d'en-tête puis un candidat par ligne."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _file_refused(report: ImportReport) -> bool:
    """Problems of the whole file (size, encoding, header, no line): nothing to preview."""
    return bool(report.errors) and (
        not report.row_count or any(issue.line in (None, 1) for issue in report.errors)
    )


@require_GET
@member_required
def import_template(request: HtmxHttpRequest) -> HttpResponse:
    response = HttpResponse(import_template_csv(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="vigie-modele-import.csv"'
    return response


def _max_mb() -> int:
    return max(1, import_max_bytes() // (1024 * 1024))


def _upload_page(request, form, refusal: list[str] | None = None, status: int = 200):
    context = {
        "form": form,
        "refusal": refusal or [],
        "max_mb": _max_mb(),
        "max_rows": import_max_rows(),
        "columns": COLUMNS,
        "required_columns": REQUIRED_COLUMNS,
    }
    return render(request, "admissions/import_upload.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required
def import_upload(request: HtmxHttpRequest) -> HttpResponse:
    form = (
        ImportUploadForm(request.POST, request.FILES)
        if request.method == "POST"
        else ImportUploadForm()
    )
    if request.method != "POST" or not form.is_valid():
        return _upload_page(request, form, status=400 if request.method == "POST" else 200)
    upload = form.cleaned_data["file"]
    if upload.size > import_max_bytes():
        # Refused from its announced size, without reading it.
        message = _(
            "Le fichier dépasse la taille maximale de %(max)s Mo. Découpez-le en plusieurs "
            "fichiers."
        ) % {"max": _max_mb()}
        return _upload_page(request, form, [message], status=400)
    # Kept on disk (copied in chunks), then read from there in chunks: never whole in memory.
    try:
        token = import_stage(acting_user=request.user, data=upload, filename=upload.name)
    except ImportRefused as exc:
        return _upload_page(request, form, exc.messages, status=400)
    staged = import_load(acting_user=request.user, token=token)
    report = parse_import(staged.path, institution=member_institution(request))
    if _file_refused(report):
        import_discard(acting_user=request.user, token=token)
        reasons = [
            _("Ligne 1 : %(message)s") % {"message": issue.message}
            if issue.line == 1
            else issue.message
            for issue in report.errors
            if issue.line in (None, 1)
        ] or [issue.message for issue in report.errors]
        if len(reasons) > ISSUES_SHOWN:
            hidden = len(reasons) - ISSUES_SHOWN
            reasons = [
                *reasons[:ISSUES_SHOWN],
                ngettext(
                    "Et %(n)s autre problème, non affiché.",
                    "Et %(n)s autres problèmes, non affichés.",
                    hidden,
                )
                % {"n": hidden},
            ]
        return _upload_page(request, form, reasons, status=400)
    return redirect("import_preview", token=token)


def _load_or_404(request: HtmxHttpRequest, token: str):
    try:
        return import_load(acting_user=request.user, token=token)
    except StagedImportExpired:
        return None
    except StagedImportNotFound as exc:
        raise Http404 from exc


def _expired(request: HtmxHttpRequest) -> HttpResponse:
    messages.warning(
        request,
        _("Le fichier déposé a expiré (plus d'une heure sans import) : déposez-le à nouveau."),
    )
    return redirect("import_upload")


def _preview(
    request: HtmxHttpRequest, staged, refusal: str = "", status: int = 200
) -> HttpResponse:
    report = parse_import(staged.path, institution=member_institution(request))
    shown_errors = report.errors[:ISSUES_SHOWN]
    context = {
        "staged": staged,
        "report": report,
        # A file of 20,000 bad lines: the first problems, then how many more.
        "shown_errors": shown_errors,
        "hidden_error_count": report.error_count - len(shown_errors),
        "sample": [
            (row, [ClaimKind(kind).label for kind, _declared in row.claims])
            for row in report.rows[:SAMPLE_ROWS]
        ],
        "claim_counts": [(ClaimKind(kind).label, n) for kind, n in report.claim_counts.items()],
        "refusal": refusal,
        "encoding": "UTF-8" if report.encoding.startswith("utf") else "Windows-1252",
    }
    return render(request, "admissions/import_preview.html", context, status=status)


@require_GET
@member_required
def import_preview(request: HtmxHttpRequest, token: str) -> HttpResponse:
    staged = _load_or_404(request, token)
    if staged is None:
        return _expired(request)
    return _preview(request, staged)


@require_POST
@member_required
def import_confirm(request: HtmxHttpRequest, token: str) -> HttpResponse:
    staged = _load_or_404(request, token)
    if staged is None:
        return _expired(request)
    try:
        batch = import_commit_staged(acting_user=request.user, token=token, ip=client_ip(request))
    except ImportRefused as exc:
        return _preview(request, staged, refusal=" ".join(exc.messages), status=409)
    except StagedImportExpired:
        return _expired(request)
    except StagedImportNotFound as exc:
        raise Http404 from exc
    messages.success(
        request,
        ngettext(
            "%(n)s candidat importé dans le lot « %(label)s ».",
            "%(n)s candidats importés dans le lot « %(label)s ».",
            batch.total,
        )
        % {"n": batch.total, "label": batch.label},
    )
    return redirect(reverse("applicant_list") + f"?batch={batch.pk}")


@require_POST
@member_required
def import_cancel(request: HtmxHttpRequest, token: str) -> HttpResponse:
    _load_or_404(request, token)
    import_discard(acting_user=request.user, token=token)
    messages.info(request, _("Import annulé : le fichier déposé a été supprimé."))
    return redirect("import_upload")
