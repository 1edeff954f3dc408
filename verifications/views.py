"""Pages of the verification side: the dashboard, an applicant's claims with their verdicts
and evidence (live while a check runs), and the actions on a claim."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from admissions import selectors as admissions_selectors
from admissions.audit import audit_record
from admissions.dashboard_counts import dashboard_counts
from admissions.enums import AuditAction, ClaimKind, Source, Verdict
from admissions.http import HtmxHttpRequest, client_ip, member_required, supervisor_required
from verifications import selectors, services
from verifications.enums import Trigger
from verifications.forms import ManualCheckForm, OverrideForm
from verifications.providers.limits import LimiterUnavailable, get_limiter
from verifications.services.decisions import MANUAL_ALLOWED_AFTER


VIEW_PURPOSE = "instruction du dossier d'admission"


def _when(epoch: float | None) -> datetime | None:
    """An epoch time of the limiter's, as an aware datetime for the templates."""
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


@require_GET
@member_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    counts = dashboard_counts(user)
    by_kind = counts.by_kind_and_verdict
    verdicts = [("", None), *((v.value, v.label) for v in Verdict)]
    rows = [
        {
            "kind": kind,
            "counts": [by_kind.get((kind.value, verdict), 0) for verdict, _label in verdicts],
            "total": sum(n for (k, _v), n in by_kind.items() if k == kind.value),
        }
        for kind in ClaimKind
    ]
    totals = [sum(row["counts"][i] for row in rows) for i in range(len(verdicts))]
    try:
        breakers, limiter_ok = get_limiter().breakers(), True
    except LimiterUnavailable:  # the shared state (Redis) is unreachable: say so, do not fail
        breakers, limiter_ok = {}, False
    pending = selectors.pending_by_source(user)
    last_errors = selectors.last_error_by_source(user)
    health = [
        {
            "source": source,
            "breaker": breakers.get(source),
            "retry_at": _when(getattr(breakers.get(source), "retry_at", None)),
            "cooldown_until": _when(getattr(breakers.get(source), "cooldown_until", None)),
            "pending": pending.get(source, 0),
            "last_error": last_errors.get(source),
            "enabled": user.institution.source_enabled(source),
        }
        for source in Source
    ]
    # One query for the ten batches' progress.
    batches = list(
        selectors.batch_progress_many(
            user=user, batches=list(selectors.batches_in_progress(user)[:10])
        ).values()
    )
    context = {
        "verdicts": verdicts,
        "rows": rows,
        "totals": totals,
        "applicant_count": counts.applicants,
        "attention": counts.needing_attention,
        "counted_at": counts.computed_at,
        "recount_seconds": settings.VIGIE_DASHBOARD_COUNTS_SECONDS,
        "health": health,
        "limiter_ok": limiter_ok,
        "alerts": selectors.open_alerts(user),
        "batches": batches,
        "verdict_changes": selectors.verdict_changes_for_user(user)[:20],
        "credential_warnings": selectors.credentials_expiring_for_user(user, now=timezone.now()),
    }
    return render(request, "verifications/dashboard.html", context)


def _detail_context(request: HtmxHttpRequest, applicant) -> dict:
    user = request.user
    return {
        "applicant": applicant,
        "cards": selectors.claim_cards_for_applicant(user=user, applicant=applicant),
        "events": admissions_selectors.audit_events_for_applicant(
            user=user, applicant=applicant
        ).select_related("actor")[:100],
        "manual_allowed_after": MANUAL_ALLOWED_AFTER,
        "manual_form": ManualCheckForm(),
        "override_form": OverrideForm(),
        "kinds": ClaimKind,
    }


@require_GET
@member_required
def applicant_detail(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """The applicant's identity, one card per claim, and the timeline. Opening it is a view of
    personal data and evidence: it is recorded in the audit trail."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    audit_record(
        action=AuditAction.VIEWED,
        actor=request.user,
        institution=request.user.institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip=client_ip(request),
        purpose=VIEW_PURPOSE,
    )
    return render(
        request, "verifications/applicant_verifications.html", _detail_context(request, applicant)
    )


def _render_card(request: HtmxHttpRequest, claim) -> HttpResponse:
    card = selectors.claim_card(user=request.user, claim=claim)
    return render(
        request,
        "verifications/applicant_verifications.html#claim-card",
        {
            "card": card,
            "applicant": claim.applicant,
            "manual_allowed_after": MANUAL_ALLOWED_AFTER,
            "manual_form": ManualCheckForm(),
            "override_form": OverrideForm(),
        },
    )


@require_GET
@member_required
def claim_card(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    """One claim's card: what a card polls while its check runs."""
    claim = admissions_selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    return _render_card(request, claim)


@require_POST
@member_required
def claim_verify(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = admissions_selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    services.verification_request_create(
        claim=claim, acting_user=request.user, trigger=Trigger.MANUAL, ip=client_ip(request)
    )
    if request.htmx:
        return _render_card(request, claim)
    messages.info(request, _("Vérification lancée."))
    return redirect("applicant_detail", applicant_id=claim.applicant_id)


@require_POST
@member_required
def claim_manual(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = admissions_selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    form = ManualCheckForm(request.POST)
    if form.is_valid():
        try:
            services.claim_verify_manually(
                claim=claim,
                acting_user=request.user,
                justification=form.cleaned_data["justification"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Vérification manuelle enregistrée."))
    else:
        messages.error(request, _("La justification est obligatoire."))
    return redirect("applicant_detail", applicant_id=claim.applicant_id)


@require_POST
@supervisor_required
def claim_override(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = admissions_selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.claim_override_verdict(
                claim=claim,
                acting_user=request.user,
                verdict=form.cleaned_data["verdict"],
                justification=form.cleaned_data["justification"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Verdict modifié."))
    else:
        messages.error(request, _("Choisissez un verdict et écrivez le motif."))
    return redirect("applicant_detail", applicant_id=claim.applicant_id)
