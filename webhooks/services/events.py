"""Emitting an event: the one entry point the other apps call (``verifications`` calls it
directly, in the transaction that changes what the event tells; no signal).

The event and one delivery per enabled endpoint of the institution subscribed to its type are
inserted in the caller's transaction (the transactional outbox): if that transaction rolls
back, nothing is sent; once it commits, the deliveries exist whatever happens to the broker or
the receivers, and each one's first attempt is sent on commit (the sweeper sends it otherwise).
A disabled endpoint's deliveries are written too, and wait for it to be enabled again.
An institution with no endpoint for the type writes nothing.

``data`` carries ids, verdicts, codes and dates, never personal data (docs/WEBHOOKS.md).
"""

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from webhooks.enqueue import delivery_send_enqueue
from webhooks.enums import EventType
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


logger = logging.getLogger(__name__)


def webhook_event_emit(
    *,
    institution_id: int,
    type: EventType,
    data: dict[str, Any],
    now: datetime | None = None,
) -> WebhookEvent | None:
    """Record the event and its deliveries; None when no endpoint wants it."""
    now = now or timezone.now()
    # Filtered here, not with a JSON lookup: SQLite (make run) has no ``contains`` on JSON.
    # A disabled endpoint gets its deliveries too, held until an admin enables it again.
    endpoints = {
        pk: enabled
        for pk, events, enabled in WebhookEndpoint.objects.filter(
            institution_id=institution_id
        ).values_list("pk", "events", "enabled")
        if type.value in events
    }
    if not endpoints:
        return None
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            institution_id=institution_id, type=type, data=data, created_at=now
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    event=event,
                    endpoint_id=pk,
                    next_attempt_at=now,
                    enqueued_at=now,
                    created_at=now,
                )
                for pk in endpoints
            ]
        )
        ids = [d.pk for d in deliveries if endpoints[d.endpoint_id]]
        transaction.on_commit(lambda: _send_all(ids))
    return event


def _send_all(ids: list[int]) -> None:
    for delivery_id in ids:
        try:
            delivery_send_enqueue(delivery_id)
        except Exception:  # a broker down: the sweeper sends it later
            logger.warning("webhook delivery %s: task not sent, left to the sweeper", delivery_id)
            return
