"""Pages of the integration door: the API's reference page, and the institution admin's API
keys (list, create, revoke). The API's own operations are ``api/v1.py``."""

from datetime import datetime, time

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from admissions.access import HtmxHttpRequest, institution_admin_required
from admissions.infra.client_address import client_ip
from api import selectors, services
from api.forms import ApiKeyForm


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """The reference page: Swagger UI from ninja's wheel, configured by a static script reading
    a JSON data block (no inline script, nothing from another origin: the CSP's rules)."""
    config = {
        "url": reverse("api-v1:openapi-json"),
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        # Swagger UI would otherwise send the document to validator.swagger.io.
        "validatorUrl": None,
    }
    return render(request, "api/docs.html", {"swagger_config": config})


@require_http_methods(["GET", "POST"])
@institution_admin_required
def api_keys(request: HtmxHttpRequest) -> HttpResponse:
    """The institution's API keys, and a form to create one; a created key is shown once."""
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        expires_at = timezone.make_aware(
            datetime.combine(form.cleaned_data["expires_on"], time.max)
        )
        try:
            created = services.api_key_create(
                acting_user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=expires_at,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = ApiKeyForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request,
        "api/keys.html",
        {
            "form": form,
            "created": created,
            "keys": selectors.api_keys_for_user(request.user),
            "now": timezone.now(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@institution_admin_required
def api_key_revoke(request: HtmxHttpRequest, key_id: int) -> HttpResponse:
    api_key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
    if request.method == "POST":
        services.api_key_revoke(acting_user=request.user, api_key=api_key, ip=client_ip(request))
        messages.success(request, _("Clé révoquée : elle ne donne plus accès à l'API."))
        return redirect("api_keys")
    return render(request, "api/key_revoke.html", {"api_key": api_key})
