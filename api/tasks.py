import logging

from celery import shared_task
from django.utils import timezone


logger = logging.getLogger(__name__)

IDEMPOTENCY_PURGE = "api.idempotent_answers_purge"


@shared_task(name=IDEMPOTENCY_PURGE, ignore_result=True)
def idempotent_answers_purge_task() -> None:
    """Hourly: forget the answers kept for replays once past their window."""
    from api.services import idempotent_answers_purge

    deleted = idempotent_answers_purge(now=timezone.now())
    if deleted:
        logger.info("idempotent answers purged: %s", deleted)
