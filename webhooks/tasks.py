"""Thin Celery tasks of the webhooks (queue ``default``): ids in, the service does the rest."""

from celery import shared_task

from webhooks.enqueue import DELIVERY_SEND, DISPATCH, PURGE


@shared_task(
    name=DELIVERY_SEND,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=40,
)
def webhook_delivery_send_task(delivery_id: int) -> str:
    # Idempotent by construction: the delivery is claimed with a conditional update.
    from webhooks.services.deliveries import webhook_delivery_send

    return webhook_delivery_send(delivery_id=delivery_id).status


@shared_task(name=DISPATCH, ignore_result=True)
def webhook_deliveries_dispatch_task() -> int:
    from webhooks.services.deliveries import webhook_deliveries_dispatch

    return webhook_deliveries_dispatch()


@shared_task(name=PURGE, ignore_result=True)
def webhook_events_purge_task() -> int:
    from webhooks.services.retention import webhook_events_purge

    return webhook_events_purge()
