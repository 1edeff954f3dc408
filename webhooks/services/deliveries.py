"""Sending deliveries: one attempt by a worker, the sweeper that re-sends what is due, and
disabling an endpoint that has failed for a day.

An attempt follows the verification pipeline's pattern (docs/DESIGN.md): **claim** the row
with a conditional update (a lease: a duplicate task finds nothing to do, a worker killed
mid-call leaves a lease that expires), **call** the receiver outside any transaction, **record**
the attempt and the next step in one short transaction, only while this worker still holds the
lease. The retry times live in the row (``next_attempt_at``), never in a Celery countdown.
"""

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from admissions.audit import audit_record
from admissions.enums import AuditAction, Role
from admissions.infra.crypto import DecryptionError
from admissions.models import User
from webhooks import addresses, schedule, sender, signing
from webhooks.body import event_body
from webhooks.enqueue import delivery_send_enqueue
from webhooks.enums import AttemptOutcome, DeliveryState
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


logger = logging.getLogger(__name__)
_rng = random.SystemRandom()
_session = threading.local()
# Rows a sweeper tick sends at most (the rest at the next tick).
DISPATCH_LIMIT = 500


@dataclass(frozen=True)
class SendOutcome:
    """What a task did: "skipped" (nothing to do), "held" (endpoint disabled), "delivered",
    "retry", "failed" (given up) or "lost_lease"."""

    status: str
    http_status: int | None = None


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _http() -> requests.Session:
    session = getattr(_session, "value", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment: receivers are called directly
        _session.value = session
    return session


def _lease() -> timedelta:
    return timedelta(seconds=settings.VIGIE_WEBHOOKS_LEASE_SECONDS)


def _claimable(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, claimed_at__lt=now - _lease()
    )


def webhook_delivery_send(*, delivery_id: int, worker: str = "") -> SendOutcome:
    """One attempt of one delivery, if it is due; safe to call any number of times."""
    worker = worker or worker_identity()
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(_claimable(now))
        .update(state=DeliveryState.SENDING, claimed_by=worker, claimed_at=now)
    )
    if not claimed:
        return SendOutcome("skipped")
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .defer("endpoint__secret")  # decrypted below, where an unreadable one is recorded
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:  # its endpoint was deleted meanwhile (with its deliveries)
        return SendOutcome("skipped")
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        # Held: it leaves when an admin enables the endpoint again (webhook_endpoint_enable).
        _held(delivery).update(
            state=DeliveryState.PENDING, claimed_by="", claimed_at=None, enqueued_at=None
        )
        return SendOutcome("held")
    body = event_body(delivery.event)
    started = timezone.now()
    try:
        secret = endpoint.secret
    except DecryptionError:
        logger.error("webhook endpoint %s: secret unreadable with the configured keys", endpoint.pk)
        unreadable = sender.SendResult(
            AttemptOutcome.SECRET_UNREADABLE, None, 0, "secret unreadable with the configured keys"
        )
        return _record(delivery, worker, started, unreadable)
    if not settings.VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        refused = addresses.non_public_address(endpoint.url)
        if refused is not None:
            blocked = sender.SendResult(
                AttemptOutcome.BLOCKED, None, 0, f"non-public address refused: {refused}"
            )
            return _record(delivery, worker, started, blocked)
    headers = signing.sign(
        secret=secret, webhook_id=delivery.event.message_id, when=started, body=body
    )
    result = sender.post(
        session=_http(),
        url=endpoint.url,
        body=body,
        headers=headers.as_dict(),
        timeout=settings.VIGIE_WEBHOOKS_TIMEOUT,
    )
    return _record(delivery, worker, started, result)


def _held(delivery: WebhookDelivery):
    return WebhookDelivery.objects.filter(
        pk=delivery.pk, state=DeliveryState.SENDING, claimed_by=delivery.claimed_by
    )


@transaction.atomic
def _record(
    delivery: WebhookDelivery, worker: str, started: datetime, result: sender.SendResult
) -> SendOutcome:
    held = (
        WebhookDelivery.objects.select_for_update()
        .filter(pk=delivery.pk, state=DeliveryState.SENDING, claimed_by=worker)
        .first()
    )
    if held is None:
        logger.info("webhook delivery %s: lease lost during the call", delivery.pk)
        return SendOutcome("lost_lease", result.http_status)
    now = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=held,
        started_at=started,
        duration_ms=result.duration_ms,
        outcome=result.outcome,
        http_status=result.http_status,
        response_snippet=result.snippet,
    )
    first = held.first_attempt_at or started
    changes: dict[str, object] = {
        "attempt_count": F("attempt_count") + 1,
        "claimed_by": "",
        "claimed_at": None,
        "enqueued_at": None,
        "first_attempt_at": first,
    }
    endpoint = WebhookEndpoint.objects.filter(pk=held.endpoint_id)
    if result.delivered:
        changes.update(state=DeliveryState.DELIVERED, delivered_at=now)
        WebhookDelivery.objects.filter(pk=held.pk).update(**changes)
        endpoint.filter(failing_since__isnull=False).update(failing_since=None)
        return SendOutcome("delivered", result.http_status)
    failures = held.failure_count + 1
    retry_at = schedule.next_attempt_at(
        failures=failures,
        first_attempt_at=first,
        now=now,
        delays=settings.VIGIE_WEBHOOKS_RETRY_DELAYS,
        window=timedelta(seconds=settings.VIGIE_WEBHOOKS_RETRY_WINDOW_SECONDS),
        rng=_rng,
    )
    changes["failure_count"] = failures
    if retry_at is None:
        changes["state"] = DeliveryState.FAILED
        status = "failed"
    else:
        changes.update(state=DeliveryState.PENDING, next_attempt_at=retry_at)
        status = "retry"
    WebhookDelivery.objects.filter(pk=held.pk).update(**changes)
    endpoint.filter(failing_since__isnull=True).update(failing_since=started)
    endpoint_disable_if_failing(endpoint_id=held.endpoint_id, now=now)
    logger.info(
        "webhook delivery %s: attempt %s failed (%s %s), %s",
        held.pk,
        held.attempt_count + 1,
        result.outcome,
        result.http_status or "-",
        status,
    )
    return SendOutcome(status, result.http_status)


def endpoint_disable_if_failing(*, endpoint_id: int, now: datetime) -> bool:
    """Disable an enabled endpoint every attempt to which has failed for a day
    (``VIGIE_WEBHOOKS_DISABLE_AFTER_SECONDS``), and tell its institution's admins. Its
    deliveries are kept: they leave when it is enabled again."""
    since = now - timedelta(seconds=settings.VIGIE_WEBHOOKS_DISABLE_AFTER_SECONDS)
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(
            pk=endpoint_id, enabled=True, failing_since__lte=since
        ).update(enabled=False, disabled_at=now, disabled_reason="failing")
        if not disabled:
            return False
        endpoint = WebhookEndpoint.objects.select_related("institution").get(pk=endpoint_id)
        audit_record(
            action=AuditAction.EDITED,
            actor=None,
            actor_label="vigie",
            institution=endpoint.institution,
            obj=endpoint,
            details={
                "change": "disabled",
                "failing_since": endpoint.failing_since.isoformat()
                if endpoint.failing_since
                else "",
            },
        )
        transaction.on_commit(partial(_email_disabled, endpoint_id))
    logger.warning("webhook endpoint %s disabled after a day of failures", endpoint_id)
    return True


def _email_disabled(endpoint_id: int) -> None:
    endpoint = WebhookEndpoint.objects.select_related("institution").get(pk=endpoint_id)
    recipients = list(
        User.objects.filter(
            institution_id=endpoint.institution_id, role=Role.INSTITUTION_ADMIN, is_active=True
        )
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "url": endpoint.url,
            "institution": endpoint.institution.name,
            "failing_since": endpoint.failing_since,
            "link": settings.VIGIE_SITE_URL + reverse("webhook_endpoint", args=[endpoint.pk]),
        }
        subject = render_to_string("webhooks/email/endpoint_disabled_subject.txt", context)
        body = render_to_string("webhooks/email/endpoint_disabled.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, recipients)
    except Exception:
        logger.warning("webhook endpoint %s: e-mail not sent", endpoint_id, exc_info=True)


def webhook_deliveries_dispatch(*, now: datetime | None = None) -> int:
    """The sweeper (a beat tick): send a task for every delivery that is due and whose task is
    not in flight (never sent, sent long ago, or held by a worker whose lease expired), to
    enabled endpoints. Returns how many were sent."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS)
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(endpoint__enabled=True)
            .filter(_claimable(now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:DISPATCH_LIMIT]
        )
        if not ids:
            return 0
        WebhookDelivery.objects.filter(pk__in=ids).update(enqueued_at=now)
    sent = 0
    for delivery_id in ids:
        try:
            delivery_send_enqueue(delivery_id)
        except Exception:
            logger.warning("webhook sweeper: broker unavailable, %s deliveries left", len(ids))
            WebhookDelivery.objects.filter(pk__in=ids[sent:]).update(enqueued_at=None)
            break
        sent += 1
    return sent
