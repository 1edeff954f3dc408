"""The institution admin's webhook pages: the endpoints (list, create: the secret shown once),
one endpoint with its recent deliveries and their attempts, enable again, delete, replay."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from admissions.access import HtmxHttpRequest, institution_admin_required
from admissions.infra.client_address import client_ip
from webhooks import selectors
from webhooks.forms import WebhookEndpointForm
from webhooks.services import endpoints as services


@require_http_methods(["GET", "POST"])
@institution_admin_required
def webhook_endpoints(request: HtmxHttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.webhook_endpoint_create(
                acting_user=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = WebhookEndpointForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request,
        "webhooks/endpoints.html",
        {
            "form": form,
            "created": created,
            "endpoints": selectors.webhook_endpoints_for_user(request.user),
        },
        status=status,
    )


@require_http_methods(["GET"])
@institution_admin_required
def webhook_endpoint(request: HtmxHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.webhook_endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    return render(
        request,
        "webhooks/endpoint.html",
        {"endpoint": endpoint, "deliveries": selectors.webhook_deliveries_recent(endpoint)},
    )


@require_POST
@institution_admin_required
def webhook_endpoint_enable(request: HtmxHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.webhook_endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    if services.webhook_endpoint_enable(
        acting_user=request.user, endpoint=endpoint, ip=client_ip(request)
    ):
        messages.success(
            request, _("Point de réception réactivé : les événements en attente vont partir.")
        )
    return redirect("webhook_endpoint", endpoint_id=endpoint.pk)


@require_http_methods(["GET", "POST"])
@institution_admin_required
def webhook_endpoint_delete(request: HtmxHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.webhook_endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    if request.method == "POST":
        services.webhook_endpoint_delete(
            acting_user=request.user, endpoint=endpoint, ip=client_ip(request)
        )
        messages.success(request, _("Point de réception supprimé."))
        return redirect("webhook_endpoints")
    return render(request, "webhooks/endpoint_delete.html", {"endpoint": endpoint})


@require_POST
@institution_admin_required
def webhook_delivery_replay(
    request: HtmxHttpRequest, endpoint_id: int, delivery_id: int
) -> HttpResponse:
    endpoint = selectors.webhook_endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    delivery = selectors.webhook_delivery_get_for_user(
        user=request.user, endpoint=endpoint, delivery_id=delivery_id
    )
    try:
        services.webhook_delivery_replay(
            acting_user=request.user, delivery=delivery, ip=client_ip(request)
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Événement renvoyé."))
    return redirect("webhook_endpoint", endpoint_id=endpoint.pk)
