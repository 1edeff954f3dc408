"""Sending the webhook tasks by their Celery names (as ``verifications/enqueue.py`` does), so
that services never import the tasks module."""

from celery import current_app


DELIVERY_SEND = "webhooks.delivery_send"
DISPATCH = "webhooks.deliveries_dispatch"
PURGE = "webhooks.events_purge"


def delivery_send_enqueue(delivery_id: int) -> None:
    current_app.tasks[DELIVERY_SEND].apply_async(args=(delivery_id,))
