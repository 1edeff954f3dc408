"""Webhook endpoints, the events they receive and every attempt to deliver them.

The rows are the outbox: an event and one delivery per subscribed endpoint are written in the
transaction that changes what the event tells (a verdict, a batch's end), so a broker or a
receiver down loses nothing; the worker sends what the rows say is due (docs/WEBHOOKS.md).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.infra.fields import EncryptedTextField
from admissions.models import Institution
from webhooks.enums import AttemptOutcome, DeliveryState, EventType


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", verbose_name=_("établissement")
    )
    url = models.URLField(_("adresse"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # A subset of EventType's values.
    events = models.JSONField(_("événements"), default=list)
    # whsec_<base64>, encrypted at rest; shown once, at creation.
    secret = EncryptedTextField(_("secret"))
    enabled = models.BooleanField(_("actif"), default=True)
    disabled_at = models.DateTimeField(_("désactivé le"), null=True, blank=True)
    # Why it was disabled: "failing" (by Vigie, after a day of failures).
    disabled_reason = models.CharField(_("motif de désactivation"), max_length=32, blank=True)
    # Since when every attempt to this endpoint has failed (None once one succeeds).
    failing_since = models.DateTimeField(_("en échec depuis"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("créé par"),
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("point de réception de webhooks")
        verbose_name_plural = _("points de réception de webhooks")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["institution", "enabled"], name="webhook_endpoint_by_inst"),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """One thing that happened, as its receivers get it: ``type`` and ``data`` (ids, verdicts,
    dates; never personal data). ``message_id`` is the ``webhook-id`` header, the same for
    every endpoint and every attempt, so that a receiver can drop a duplicate."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=40, unique=True, default=new_message_id)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("événement de webhook")
        verbose_name_plural = _("événements de webhook")
        indexes = [
            models.Index(fields=["institution", "-created_at"], name="webhook_event_by_inst")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the outbox row the worker works from."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(
        _("état"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), default=timezone.now)
    # When a task was last sent for it (the sweeper re-sends it if that was long ago).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker sending it.
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(_("tentatives"), default=0)
    # Failed attempts in the current retry window (what the schedule counts).
    failure_count = models.PositiveIntegerField(default=0)
    # The first attempt of the current retry window (a replay starts a new window).
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("livré le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("livraison de webhook")
        verbose_name_plural = _("livraisons de webhook")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_by_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One HTTP call to a receiver (append-only)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(_("envoyé le"))
    duration_ms = models.PositiveIntegerField(_("durée (ms)"), default=0)
    outcome = models.CharField(_("résultat"), max_length=20, choices=AttemptOutcome.choices)
    http_status = models.PositiveSmallIntegerField(_("code HTTP"), null=True, blank=True)
    # The start of the receiver's answer (or of the error), at most RESPONSE_SNIPPET chars.
    response_snippet = models.TextField(_("début de la réponse"), blank=True)

    class Meta:
        verbose_name = _("tentative de livraison")
        verbose_name_plural = _("tentatives de livraison")
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.outcome} {self.http_status or ''}".strip()
