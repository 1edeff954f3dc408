"""The applicant's page on the verification side: the applicant's claims with their verdicts
and evidence (live while a check runs), and the actions on a claim."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from admissions import selectors as admissions_selectors
from admissions.access import HtmxHttpRequest, member_required, supervisor_required
from admissions.audit import audit_view_record
from admissions.infra.client_address import client_ip
from verifications import selectors, services
from verifications.enums import ClaimKind, Trigger
from verifications.forms import ManualCheckForm, OverrideForm, VariantTryForm
from verifications.services import rematch as rematch_services
from verifications.services.decisions import MANUAL_ALLOWED_AFTER
from verifications.views.polling import csrf_secret, poll_answer


VIEW_PURPOSE = "instruction du dossier d'admission"
TIMELINE_SIZE = 100


def _auto_id(claim, form: str) -> str:
    """Ids unique on the page: one card's labels point at its own form's fields."""
    return f"id_claim{claim.pk}_{form}_%s"


def _with_forms(cards: list, bound: dict | None = None) -> list:
    """Each card gets its own forms (ids prefixed by the claim's, so that labels point at their
    own card's fields); ``bound`` replaces one card's form by the one that came back with
    errors, so that what the person typed is kept."""
    bound = bound or {}
    for card in cards:
        claim, pk = card.claim, card.claim.pk
        card.manual_form = bound.get(("manual", pk)) or ManualCheckForm(
            auto_id=_auto_id(claim, "manual")
        )
        card.override_form = bound.get(("override", pk)) or OverrideForm(
            auto_id=_auto_id(claim, "override")
        )
        card.variant_form = bound.get(("variants", pk)) or VariantTryForm(
            auto_id=_auto_id(claim, "variants"), proposals=card.proposals
        )
    return cards


def _timeline_events(request: HtmxHttpRequest, applicant) -> list:
    """The applicant's timeline: its latest audit events, newest first, with who acted."""
    events = admissions_selectors.audit_events_for_applicant(user=request.user, applicant=applicant)
    return list(events.select_related("actor")[:TIMELINE_SIZE])


def _detail_context(request: HtmxHttpRequest, applicant, bound: dict | None = None) -> dict:
    user = request.user
    # The ETags first: read before the cards, an ETag is never newer than its card.
    etags = selectors.claim_card_etags(
        user=user, applicant_id=applicant.pk, extra=csrf_secret(request)
    )
    cards = selectors.claim_cards_for_applicant(user=user, applicant=applicant)
    for card in cards:
        card.etag = etags.get(card.claim.pk, "")
    return {
        "applicant": applicant,
        "cards": _with_forms(cards, bound),
        "events": _timeline_events(request, applicant),
        "manual_allowed_after": MANUAL_ALLOWED_AFTER,
        "kinds": ClaimKind,
    }


def _back_to_card(request: HtmxHttpRequest, claim) -> HttpResponse:
    """After a decision recorded on a card: the applicant's page again (its message, the
    card's new state and the timeline's new line), opened at that card. htmx is told to load
    it as a page rather than swap it into the card: to go there and to reload, since going from
    the page to the same page with a fragment only scrolls."""
    url = reverse("applicant_detail", args=[claim.applicant_id]) + f"#claim-{claim.pk}"
    if not request.htmx:
        return redirect(url)
    response = HttpResponseClientRedirect(url)
    response["HX-Refresh"] = "true"
    return response


def _focus_first_error(form) -> None:
    """The form's first field in error (its first field when the error is the form's) gets
    ``autofocus``: the page, or the card htmx swaps in, opens on it, not at the top."""
    names = [name for name in form.fields if name in form.errors] or list(form.fields)[:1]
    for name in names[:1]:
        form.fields[name].widget.attrs["autofocus"] = True


def _detail_with_errors(request: HtmxHttpRequest, claim, key: str, form) -> HttpResponse:
    """The form that failed, open on its card with its errors next to its fields and what was
    typed: the card alone for htmx (answered 200, since htmx swaps only a success), else the
    applicant's page (400) with the browser taken to the first field in error."""
    _focus_first_error(form)
    bound = {(key, claim.pk): form}
    if request.htmx:
        return _render_card(request, claim, bound)
    context = _detail_context(request, claim.applicant, bound=bound)
    return render(request, "verifications/applicant_verifications.html", context, status=400)


@require_GET
@member_required
def applicant_detail(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """The applicant's identity, one card per claim, and the timeline. Opening it is a view of
    personal data and evidence: it is recorded in the audit trail, once per person and purpose
    within ``VIGIE_AUDIT_VIEW_WINDOW_SECONDS`` (``audit_view_record``)."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    audit_view_record(
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


def _render_card(
    request: HtmxHttpRequest, claim, bound: dict | None = None, etag: str = ""
) -> HttpResponse:
    """The claim's card alone, with its ETag (read before the card: ``etag`` when the caller
    has just read it)."""
    etag = etag or _card_etag(request, claim.pk)
    card = _with_forms([selectors.claim_card(user=request.user, claim=claim)], bound)[0]
    card.etag = etag
    return render(
        request,
        "verifications/applicant_verifications.html#claim-card",
        {
            "card": card,
            "applicant": claim.applicant,
            "manual_allowed_after": MANUAL_ALLOWED_AFTER,
        },
    )


@require_GET
@member_required
def applicant_timeline(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """The applicant's timeline alone: what the page loads again when a card comes back after
    an action or at the end of its check. Part of the page whose opening is recorded, like the
    cards' polls: not a consultation of its own."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    context = {"applicant": applicant, "events": _timeline_events(request, applicant)}
    return render(request, "verifications/applicant_verifications.html#timeline", context)


def _card_etag(request: HtmxHttpRequest, claim_id: int) -> str:
    return selectors.claim_card_etag(
        user=request.user, claim_id=claim_id, extra=csrf_secret(request)
    )


@require_GET
@member_required
def claim_card(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    """One claim's card: what a card polls while its check runs (``static/js/poll.js``).

    A poll sends the ETag of the card it shows (``If-None-Match``); when the card would be the
    same (``selectors.claim_card_etag``, one query), the answer is ``304 Not Modified``,
    nothing rendered, and the page keeps its card. ``Cache-Control: no-store``: the browser's
    cache keeps no copy of personal data, and so never turns a 304 into a 200 of its own copy
    (htmx then sees the 304 itself and leaves the card as it is)."""
    etag = _card_etag(request, claim_id)

    def card() -> HttpResponse:
        claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
        return _render_card(request, claim, etag=etag)

    return poll_answer(request, etag, card)


@require_POST
@member_required
def claim_verify(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    services.verification_request_create(
        claim=claim, acting_user=request.user, trigger=Trigger.MANUAL, ip=client_ip(request)
    )
    if request.htmx:
        return _render_card(request, claim)
    messages.info(request, _("Vérification lancée."))
    return redirect("applicant_detail", applicant_id=claim.applicant_id)


@require_POST
@member_required
def applicant_verify_all(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    """ "Vérifier toutes les déclarations": every claim of the applicant checked in one click;
    the cards then follow their checks live."""
    applicant = admissions_selectors.applicant_get_for_user(
        user=request.user, applicant_id=applicant_id
    )
    asked = services.applicant_claims_verify(
        applicant=applicant, acting_user=request.user, ip=client_ip(request)
    )
    if asked:
        messages.info(
            request,
            ngettext("%(n)s vérification lancée.", "%(n)s vérifications lancées.", asked)
            % {"n": asked},
        )
    else:
        messages.info(request, _("Toutes les déclarations sont déjà en cours de vérification."))
    return redirect("applicant_detail", applicant_id=applicant.pk)


@require_POST
@member_required
def claim_manual(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    form = ManualCheckForm(request.POST, auto_id=_auto_id(claim, "manual"))
    if form.is_valid():
        try:
            services.claim_verify_manually(
                claim=claim,
                acting_user=request.user,
                document=form.cleaned_data["document"],
                justification=form.cleaned_data["justification"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Vérification manuelle enregistrée."))
            return _back_to_card(request, claim)
    return _detail_with_errors(request, claim, "manual", form)


@require_POST
@supervisor_required
def claim_override(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    form = OverrideForm(request.POST, auto_id=_auto_id(claim, "override"))
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
            _add_errors(form, exc)
        else:
            messages.success(request, _("Verdict modifié."))
            return _back_to_card(request, claim)
    return _detail_with_errors(request, claim, "override", form)


@require_POST
@member_required
def claim_variants(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    """Try the identity variants a clerk chose after a "not found"."""
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    card = selectors.claim_card(user=request.user, claim=claim)
    form = VariantTryForm(
        request.POST, auto_id=_auto_id(claim, "variants"), proposals=card.proposals
    )
    if form.is_valid():
        try:
            requests = rematch_services.claim_variants_try(
                claim=claim,
                acting_user=request.user,
                keys=form.cleaned_data["variants"],
                purpose=form.cleaned_data["purpose"],
                proposals=card.proposals,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.info(
                request,
                ngettext(
                    "%(n)s variante envoyée à la source.",
                    "%(n)s variantes envoyées à la source.",
                    len(requests),
                )
                % {"n": len(requests)},
            )
            return _back_to_card(request, claim)
    return _detail_with_errors(request, claim, "variants", form)


@require_POST
@member_required
def claim_variant_correct(request: HtmxHttpRequest, claim_id: int, request_id: int) -> HttpResponse:
    """Correct the record from a variant the source found, then check it again."""
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    found = get_object_or_404(
        selectors.requests_for_user(request.user).select_related("claim__applicant"),
        pk=request_id,
        claim=claim,
    )
    try:
        checks = rematch_services.applicant_correct_from_variant(
            request=found, acting_user=request.user, ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            ngettext(
                "Dossier corrigé d'après la variante ; la déclaration est vérifiée à nouveau.",
                "Dossier corrigé d'après la variante ; %(n)s déclarations sont vérifiées à "
                "nouveau.",
                len(checks),
            )
            % {"n": len(checks)},
        )
    return redirect("applicant_detail", applicant_id=claim.applicant_id)


def _add_errors(form, exc: ValidationError) -> None:
    """A service's refusal, on the form's fields (or above them)."""
    if hasattr(exc, "error_dict"):
        for field_name, errors in exc.error_dict.items():
            form.add_error(field_name if field_name in form.fields else None, errors)
    else:
        form.add_error(None, exc)
