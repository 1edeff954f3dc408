"""The institution-wide audit view, for supervisors and institution admins: the trail of who
did or saw what, filtered, newest first, in keyset pages, and its export as CSV or XLSX (the
export itself is recorded in the trail, with its filters)."""

import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from admissions import audit_words, selectors, services
from admissions.access import HtmxHttpRequest, supervisor_required
from admissions.audit_purposes import purpose_text
from admissions.forms import AUDIT_OBJECT_TYPES, AuditFilterForm
from admissions.infra import exports
from admissions.infra.client_address import client_ip
from admissions.models import AuditEvent, User


PAGE_SIZE = 50
# An export beyond this many events is cut, and says so: narrow the filters (dates) instead.
EXPORT_MAX_ROWS = 100_000
_EXPORT_CHUNK = 2000


def _filter_form(request: HtmxHttpRequest) -> AuditFilterForm:
    params = request.GET.copy()
    params.pop("apres", None)
    return AuditFilterForm(params or None, actors=selectors.audit_actor_choices(request.user))


@require_GET
@supervisor_required
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    form = _filter_form(request)
    filters = form.filters()
    cursor = selectors.AuditCursor.decode(request.GET.get("apres", ""))
    page = selectors.audit_event_page(
        user=request.user, filters=filters, cursor=cursor, size=PAGE_SIZE
    )
    query = request.GET.copy()
    query.pop("apres", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "newer_exist": cursor is not None,  # a later page: link back to the newest
        "object_types": AUDIT_OBJECT_TYPES,
    }
    template = "admissions/audit_list.html"
    if request.htmx and request.htmx.target == "audit-results":
        template += "#results"
    return render(request, template, context)


def _headers() -> list[str]:
    return [
        _("Date"),
        _("Acteur"),
        _("Action"),
        _("Type d'objet"),
        _("Objet"),
        _("Référence du dossier"),
        _("Adresse IP"),
        _("Finalité ou motif"),
        _("Détails"),
        _("N° dans la chaîne"),
        _("Empreinte"),
    ]


def _rows(user: User, events: Iterable[AuditEvent]) -> Iterator[list[Any]]:
    """Export rows, resolving file references one query per chunk of events."""
    iterator = iter(events)
    while chunk := list(islice(iterator, _EXPORT_CHUNK)):
        references = selectors.applicant_references(
            user=user, ids={event.applicant_id for event in chunk}
        )
        for event in chunk:
            yield [
                event.created_at,
                audit_words.actor_name(event),
                audit_words.action_label(event),
                audit_words.object_type_label(event.object_type),
                event.object_id,
                references.get(event.applicant_id, "") if event.applicant_id else "",
                event.ip,
                purpose_text(event.purpose),
                audit_words.details_text(event.details),
                event.seq,
                event.hash,
            ]


@require_GET
@supervisor_required
def audit_export(request: HtmxHttpRequest, export_format: str) -> StreamingHttpResponse:
    if export_format not in {"csv", "xlsx"}:
        raise Http404
    form = _filter_form(request)
    filters = form.filters()
    events = selectors.audit_event_search(user=request.user, filters=filters)
    applicant_id = None
    if filters.file_reference:
        applicant_id = selectors.applicant_id_by_reference(
            user=request.user, file_reference=filters.file_reference
        )
    services.audit_export_record(
        acting_user=request.user,
        export_format=export_format,
        filters=filters.as_details(),
        applicant_id=applicant_id,
        row_limit=EXPORT_MAX_ROWS,
        ip=client_ip(request),
    )
    events = events.select_related("actor")[:EXPORT_MAX_ROWS]
    rows = _rows(request.user, events.iterator(chunk_size=_EXPORT_CHUNK))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    filename = f"journal-audit-{stamp}.{export_format}"
    if export_format == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(_headers(), rows), content_type=exports.CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        exports.xlsx_write(output, _headers(), rows, sheet_name=_("Journal d'audit"))
        output.seek(0)
        response = FileResponse(
            output, as_attachment=True, filename=filename, content_type=exports.XLSX_CONTENT_TYPE
        )
    return response
