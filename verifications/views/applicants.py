"""The applicant list (filtered by claims and their verdicts, each row with its claims' badges),
and creating and editing applicants with their claims, and the claims themselves. The
applicant's own page (claims, verdicts, timeline) is in ``claims.py``. URLs and templates are
the applicant pages' (``admissions.urls``, ``templates/admissions/``)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from admissions import selectors as admissions_selectors
from admissions import services
from admissions.access import HtmxHttpRequest, member_required
from admissions.forms import ApplicantForm
from admissions.infra.client_address import client_ip
from verifications import selectors
from verifications.access import import_verification_allowed
from verifications.enums import BatchKind, ClaimKind
from verifications.forms import ApplicantFilterForm, ClaimForm, claim_fields
from verifications.services import claims as claim_services


PAGE_SIZE = 50


@require_GET
@member_required
def applicant_list(request: HtmxHttpRequest) -> HttpResponse:
    form = ApplicantFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    order_by = ApplicantFilterForm.SORTS[filters.get("sort") or "nom"]
    applicants = selectors.applicant_list_search(
        user=request.user,
        q=filters.get("q", ""),
        verdict=filters.get("verdict", ""),
        kind=filters.get("kind", ""),
        batch_id=filters.get("batch"),
        needs_me=filters.get("needs_me", False),
        order_by=order_by,
    )
    paginator = admissions_selectors.ApplicantPaginator(
        applicants, PAGE_SIZE, searching=bool(filters.get("q", "").strip())
    )
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    batch = None
    if filters.get("batch") is not None:
        batch = selectors.batches_for_user(request.user).filter(pk=filters["batch"]).first()
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "kinds": ClaimKind,
        "batch": batch,
        "import_verifiable": (
            batch is not None
            and import_verification_allowed(request.user, batch)
            and selectors.import_has_unchecked_claims(user=request.user, batch=batch)
        ),
        "import_verification": (
            selectors.import_verification_latest(user=request.user, batch=batch)
            if batch is not None and batch.kind == BatchKind.IMPORT
            else None
        ),
    }
    template = "admissions/applicant_list.html"
    if request.htmx and request.htmx.target == "applicant-results":
        template += "#results"
    return render(request, template, context)


def _add_errors(form: ApplicantForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _claim_forms(data: dict | None) -> list[ClaimForm]:
    """One form per claim kind. The sections are optional: one the clerk did not start stays
    unbound, so it is neither validated nor shown with errors; a started one is bound."""
    forms = []
    for kind in ClaimKind:
        form = ClaimForm(data, kind=kind, prefix=kind)
        forms.append(
            form if data is not None and _filled(form) else ClaimForm(kind=kind, prefix=kind)
        )
    return forms


def _filled(form: ClaimForm) -> bool:
    """A claim section counts when any of its fields was filled in."""
    return any(
        str(form.data.get(form.add_prefix(name), "")).strip()
        for name, _field in claim_fields(form.kind)
    )


@require_http_methods(["GET", "POST"])
@member_required
def applicant_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ApplicantForm(request.POST or None)
    claim_forms = _claim_forms(request.POST or None)
    if request.method == "POST":
        wanted = [f for f in claim_forms if f.is_bound]
        # Validate every section, so that all errors show at once.
        claims_valid = [f.is_valid() for f in wanted]
        if form.is_valid() and all(claims_valid):
            try:
                applicant = services.applicant_create(
                    acting_user=request.user,
                    identity=form.identity(),
                    claims=[(f.kind, f.declared()) for f in wanted],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Candidat enregistré."))
                return redirect("applicant_detail", applicant_id=applicant.pk)
    return render(
        request,
        "admissions/applicant_form.html",
        {"form": form, "claim_forms": claim_forms, "creating": True},
    )


@require_http_methods(["GET", "POST"])
@member_required
def applicant_edit(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    form = ApplicantForm(request.POST or None, initial=ApplicantForm.initial_from(applicant))
    if request.method == "POST" and form.is_valid():
        try:
            services.applicant_update(
                acting_user=request.user,
                applicant=applicant,
                changes=form.identity(),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Modifications enregistrées."))
            return redirect("applicant_detail", applicant_id=applicant.pk)
    return render(
        request,
        "admissions/applicant_form.html",
        {"form": form, "applicant": applicant, "creating": False},
    )


@require_http_methods(["GET", "POST"])
@member_required
def claim_add(request: HtmxHttpRequest, applicant_id: int, kind: str) -> HttpResponse:
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    claim_kind = ClaimKind(kind) if kind in ClaimKind.values else None
    if claim_kind is None:
        return render(request, "404.html", status=404)
    form = ClaimForm(request.POST or None, kind=claim_kind)
    if request.method == "POST" and form.is_valid():
        claim_services.claim_create(
            acting_user=request.user,
            applicant=applicant,
            kind=claim_kind,
            declared=form.declared(),
            ip=client_ip(request),
        )
        messages.success(request, _("Déclaration ajoutée."))
        return redirect("applicant_detail", applicant_id=applicant.pk)
    return render(
        request,
        "admissions/claim_form.html",
        {"form": form, "applicant": applicant, "kind": claim_kind},
    )


@require_http_methods(["GET", "POST"])
@member_required
def claim_edit(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    form = ClaimForm(request.POST or None, kind=claim.kind, initial=claim.declared)
    if request.method == "POST" and form.is_valid():
        claim_services.claim_update_declared(
            acting_user=request.user, claim=claim, declared=form.declared(), ip=client_ip(request)
        )
        messages.success(request, _("Déclaration modifiée : elle devra être vérifiée à nouveau."))
        return redirect("applicant_detail", applicant_id=claim.applicant_id)
    return render(
        request,
        "admissions/claim_form.html",
        {"form": form, "applicant": claim.applicant, "kind": ClaimKind(claim.kind), "claim": claim},
    )
