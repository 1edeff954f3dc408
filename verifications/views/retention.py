"""Pages of the retention area: the institution's settings (re-verification policies, night
window, share, retention), verdict-change notices, and an applicant's GDPR export and erasure."""

import json
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admissions import selectors as admissions_selectors
from admissions.access import (
    HtmxHttpRequest,
    institution_admin_required,
    member_institution,
    member_required,
    supervisor_required,
)
from admissions.infra.client_address import client_ip
from verifications import selectors
from verifications.enums import ClaimKind
from verifications.forms import ErasureForm, FreshnessPolicyForm, InstitutionPolicyForm
from verifications.services.notifications import verdict_change_dismiss
from verifications.services.policies import (
    FRESHNESS_FIELDS,
    POLICY_FIELDS,
    freshness_policies_get,
    institution_policy_get,
    institution_settings_update,
)
from verifications.services.retention import applicant_erase, applicant_export


@require_http_methods(["GET", "POST"])
@institution_admin_required
def institution_settings(request: HtmxHttpRequest) -> HttpResponse:
    """ "Paramètres de l'établissement": institution admins only (others get 403)."""
    institution = member_institution(request)
    policy = institution_policy_get(institution)
    policies = freshness_policies_get(institution)
    data = request.POST if request.method == "POST" else None
    form = InstitutionPolicyForm(
        data,
        initial={
            **{name: getattr(policy, name) for name in POLICY_FIELDS},
            "verify_on_record": institution.verify_on_record,
        },
    )
    kind_forms = [
        (
            ClaimKind(kind),
            FreshnessPolicyForm(
                data,
                prefix=kind,
                kind=kind,
                initial={name: getattr(row, name) for name in FRESHNESS_FIELDS},
            ),
        )
        for kind, row in policies.items()
    ]
    # Every form is validated for the page's error summary (the template reads their errors).
    valid = (
        [form.is_valid(), *(f.is_valid() for _kind, f in kind_forms)]
        if data is not None
        else [False]
    )
    if all(valid):
        institution_settings_update(
            acting_user=request.user,
            settings=form.cleaned_data,
            policies={kind.value: f.cleaned_data for kind, f in kind_forms},
            ip=client_ip(request),
        )
        messages.success(request, _("Paramètres enregistrés."))
        return redirect("institution_settings")
    return render(
        request,
        "verifications/institution_settings.html",
        {"form": form, "kind_forms": kind_forms, "policy": policy},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@member_required
def verdict_change_dismiss_view(request: HtmxHttpRequest, change_id: int) -> HttpResponse:
    change = selectors.verdict_change_get_for_user(user=request.user, change_id=change_id)
    verdict_change_dismiss(change=change, acting_user=request.user, ip=client_ip(request))
    if request.htmx:
        return render(
            request,
            "verifications/dashboard.html#verdict-changes",
            {"verdict_changes": selectors.verdict_changes_for_user(request.user)[:20]},
        )
    return redirect("home")


@require_GET
@supervisor_required
def applicant_export_view(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """Everything Vigie holds about the applicant, as a JSON download (right of access)."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    data = applicant_export(applicant=applicant, acting_user=request.user, ip=client_ip(request))
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    filename = f"vigie-candidat-{applicant.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@supervisor_required
def applicant_export_page(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """The same right of access as a page the applicant can read and print: identity, claims
    with each check's answer in words, and the audit trail. The JSON stays for machines."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    data = applicant_export(
        applicant=applicant, acting_user=request.user, ip=client_ip(request), export_format="html"
    )
    context = {
        "applicant": applicant,
        "institution": applicant.institution,
        "generated_at": datetime.fromisoformat(data["generated_at"]),
        "cards": selectors.claim_cards_for_applicant(user=request.user, applicant=applicant),
        "events": admissions_selectors.audit_events_for_applicant(
            user=request.user, applicant=applicant
        )
        .select_related("actor")
        .order_by("seq"),
    }
    return render(request, "verifications/applicant_export.html", context)


@require_http_methods(["GET", "POST"])
@supervisor_required
def applicant_erase_view(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """Erasure of an applicant (right to erasure), with a justification and a confirmation."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    form = ErasureForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            applicant_erase(
                applicant=applicant,
                acting_user=request.user,
                justification=form.cleaned_data["justification"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Les données du candidat ont été effacées."))
            return redirect("applicant_list")
    return render(
        request,
        "verifications/applicant_erase.html",
        {"applicant": applicant, "form": form},
        status=400 if request.method == "POST" else 200,
    )
