"""The columns and rows of a verification batch's results file, one line per current check:
shared by the CSV the batch's page streams (``views.batches.batch_export``) and the XLSX a
worker writes in the background (``services.exports.batch_export_build``)."""

from django.utils.translation import gettext as _

from admissions.infra.choices import choice_label
from verifications import selectors
from verifications.enums import ClaimKind, RequestState, Verdict
from verifications.templatetags.verifications import variant_text


def result_headers() -> list[str]:
    return [
        _("Référence du dossier"),
        _("Nom de naissance"),
        _("Nom d'usage"),
        _("Prénoms"),
        _("Date de naissance"),
        _("INE"),
        _("Déclaration"),
        _("État"),
        _("Verdict"),
        _("Motif"),
        _("Vérifiée le"),
        _("Variante essayée"),
        _("Variantes à essayer"),
    ]


def result_rows(user, requests):
    """The results file's rows; a "not found" row lists the variants still worth trying (the
    batch page tries them all in one step), a variant's row says which it was."""
    for chunk in _chunks(requests, 500):
        not_found = [r.claim for r in chunk if r.verdict == Verdict.NOT_FOUND and not r.variant_key]
        proposals = selectors.variant_proposals(user=user, claims=not_found)
        for request in chunk:
            yield [
                *result_row(request),
                variant_text(request.variant) if request.variant else "",
                "\n".join(variant_text(v.as_json()) for v in proposals.get(request.claim_id, [])),
            ]


def _chunks(iterable, size: int):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def result_row(request) -> list:
    applicant = request.claim.applicant
    return [
        applicant.file_reference,
        applicant.birth_name,
        applicant.usage_name,
        " ".join(applicant.first_names),
        applicant.birth_date,
        applicant.ine,
        choice_label(ClaimKind, request.claim.kind),
        choice_label(RequestState, request.state),
        choice_label(Verdict, request.verdict) if request.state == RequestState.DONE else "",
        request.reason,
        request.finished_at,
    ]
