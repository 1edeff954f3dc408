"""Verification certificates: a claim's certificate as a PDF for the institution's members, the
public page where anyone holding one checks it, and the published signing keys
(docs/CERTIFICATES.md)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from admissions.access import HtmxHttpRequest, member_required
from admissions.infra import signing
from admissions.infra.client_address import client_ip
from verifications import selectors
from verifications.certificates import payload as certificate_payload
from verifications.certificates import pdf, throttle
from verifications.forms import CertificateCheckForm
from verifications.services.certificates import certificate_check, certificate_issue


LANGUAGES = ("fr", "en")


@require_GET
@member_required
def claim_certificate(request: HtmxHttpRequest, claim_id: int) -> HttpResponse:
    """The PDF certificate of the check that gives the claim its verdict (issued on first ask)."""
    claim = selectors.claim_get_for_user(user=request.user, claim_id=claim_id)
    card = selectors.claim_cards(user=request.user, claims=[claim])[0]
    language = request.GET.get("langue", "")
    if language not in LANGUAGES:
        language = (get_language() or "fr")[:2]
    checked = card.certifiable
    if checked is None:
        messages.error(
            request,
            _(
                "Pas de certificat pour cette déclaration : aucune vérification terminée ne "
                "donne son verdict actuel."
            ),
        )
        return redirect("applicant_detail", applicant_id=claim.applicant_id)
    try:
        certificate = certificate_issue(
            request=checked,
            acting_user=request.user,
            verify_url=request.build_absolute_uri(reverse("certificate_public")),
            language=language,
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("applicant_detail", applicant_id=claim.applicant_id)
    data = certificate.payload.encode()
    document = pdf.render(
        certificate_payload.parse(data), data, signing.unb64(certificate.signature), language
    )
    response = HttpResponse(document, content_type="application/pdf")
    suffix = "" if language == "fr" else f"-{language}"
    response["Content-Disposition"] = (
        f'attachment; filename="certificat-{certificate.number}{suffix}.pdf"'
    )
    return response


def _answer(
    request: HttpRequest, number: str, code: str, form: CertificateCheckForm
) -> HttpResponse:
    if not throttle.allow(client_ip(request)):
        return render(
            request,
            "verifications/certificate_public.html",
            {"form": form, "throttled": True},
            status=429,
        )
    status = certificate_check(number=number, code=code, ip=client_ip(request))
    return render(
        request,
        "verifications/certificate_public.html",
        {"form": form, "checked": True, "status": status},
        status=200,
    )


@require_GET
def certificate_public(request: HttpRequest) -> HttpResponse:
    """Anyone holding a certificate types its number and code here (no login)."""
    if not request.GET:
        return render(
            request, "verifications/certificate_public.html", {"form": CertificateCheckForm()}
        )
    form = CertificateCheckForm(request.GET)
    if not form.is_valid():
        return render(request, "verifications/certificate_public.html", {"form": form}, status=400)
    return _answer(request, form.cleaned_data["number"], form.cleaned_data["code"], form)


@require_GET
def certificate_public_direct(request: HttpRequest, number: str, code: str) -> HttpResponse:
    """Where a certificate's QR code leads: the same answer, the number and code filled in."""
    if len(number) > 32 or len(code) > 16:
        raise Http404
    form = CertificateCheckForm(initial={"number": number, "code": code})
    return _answer(request, number, code, form)


@require_GET
def signing_keys(request: HttpRequest) -> JsonResponse:
    """The deployment's public signing keys, the one signing now first."""
    return JsonResponse(
        {
            "algorithm": "Ed25519",
            "keys": [
                {"key_id": key.key_id, "public_key": key.text, "pem": key.pem}
                for key in signing.public_keys()
            ],
        }
    )
