"""Reads of the webhook pages, scoped to the admin's institution (another's id: 404)."""

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from admissions.models import User
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


RECENT_DELIVERIES = 50


def webhook_endpoints_for_user(user: User) -> QuerySet[WebhookEndpoint]:
    if user.institution_id is None or not user.is_institution_admin:
        return WebhookEndpoint.objects.none()
    return (
        WebhookEndpoint.objects.filter(institution_id=user.institution_id)
        # The pages never show the secret, and must open even when it cannot be decrypted.
        .defer("secret")
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def webhook_endpoint_get_for_user(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoints_for_user(user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404
    return endpoint


def webhook_deliveries_recent(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first, each with its attempts (oldest first)."""
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("started_at", "id"))
        )
        .order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    )


def webhook_delivery_get_for_user(
    *, user: User, endpoint: WebhookEndpoint, delivery_id: int
) -> WebhookDelivery:
    delivery = (
        # ``endpoint`` came from webhook_endpoint_get_for_user: of the user's institution.
        WebhookDelivery.objects.filter(pk=delivery_id, endpoint=endpoint)
        .select_related("event", "endpoint")
        .first()
    )
    if delivery is None:
        raise Http404
    return delivery
