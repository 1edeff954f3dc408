"""Forgetting old events: an event, its deliveries and their attempts are deleted once every
delivery has ended (delivered or given up) and the event is older than
``VIGIE_WEBHOOKS_RETENTION_DAYS`` (30). A delivery still waiting (an endpoint disabled for
longer than that) keeps its event."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.enums import DeliveryState
from webhooks.models import WebhookDelivery, WebhookEvent


logger = logging.getLogger(__name__)


def webhook_events_purge(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    horizon = now - timedelta(days=settings.VIGIE_WEBHOOKS_RETENTION_DAYS)
    waiting = WebhookDelivery.objects.filter(
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING]
    ).values("event_id")
    with transaction.atomic():
        old = WebhookEvent.objects.filter(created_at__lt=horizon).exclude(pk__in=waiting)
        deleted, _by_model = old.delete()
    if deleted:
        logger.info("webhooks: %s old rows deleted (events, deliveries, attempts)", deleted)
    return deleted
