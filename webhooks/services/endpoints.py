"""Institution admins' writes on their webhook endpoints: create (the secret is shown once),
enable again, delete, and replay a delivery. Each is one transaction with its audit event."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.infra.crypto import fingerprint
from admissions.models import Institution, User
from webhooks.enqueue import delivery_send_enqueue
from webhooks.enums import DeliveryState, EventType
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.signing import secret_generate
from webhooks.urls_check import url_problem


URL_MESSAGES = {
    "too_long": _("L'adresse est trop longue (500 caractères au plus)."),
    "invalid": _("Saisissez une adresse web complète, par exemple https://si.exemple.fr/vigie."),
    "https_required": _("L'adresse doit commencer par https://."),
    "credentials": _("L'adresse ne doit pas contenir d'identifiant ni de mot de passe."),
}


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    # whsec_<base64>: shown once; then it exists only encrypted, for signing.
    secret: str


def _require_admin(user: User) -> Institution:
    institution = user.institution
    if institution is None or not user.is_institution_admin or user.is_api_key:
        raise PermissionDenied("webhooks are managed by institution admins")
    return institution


def _require_own(user: User, endpoint: WebhookEndpoint) -> None:
    _require_admin(user)
    if endpoint.institution_id != user.institution_id:
        raise PermissionDenied("endpoint of another institution")


def webhook_url_check(url: str) -> None:
    """Raise ValidationError (the message for the page) for a URL an endpoint may not have:
    HTTPS only, plain HTTP to this machine where ``VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK``."""
    problem = url_problem(url, allow_http_loopback=settings.VIGIE_WEBHOOKS_ALLOW_HTTP_LOOPBACK)
    if problem:
        raise ValidationError(URL_MESSAGES[problem], code=problem)


@transaction.atomic
def webhook_endpoint_create(
    *,
    acting_user: User,
    url: str,
    events: Iterable[str],
    description: str = "",
    ip: str | None = None,
) -> CreatedEndpoint:
    institution = _require_admin(acting_user)
    url = url.strip()
    wanted = sorted(set(events))
    errors: dict[str, list[ValidationError]] = {}
    if not url:
        errors["url"] = [ValidationError(_("Ce champ est obligatoire."), code="required")]
    else:
        try:
            webhook_url_check(url)
        except ValidationError as exc:
            errors["url"] = [exc]
    if not wanted or not set(wanted) <= set(EventType.values):
        errors["events"] = [
            ValidationError(_("Choisissez au moins un événement."), code="events_required")
        ]
    if errors:
        raise ValidationError(errors)
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        institution=institution,
        url=url,
        description=description.strip()[:200],
        events=wanted,
        secret=secret,
        created_by=acting_user,
    )
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=endpoint,
        ip=ip,
        details={"url": url, "events": wanted, "secret": fingerprint(secret)},
    )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_enable(
    *, acting_user: User, endpoint: WebhookEndpoint, ip: str | None = None
) -> bool:
    """Enable a disabled endpoint: its held and waiting deliveries leave at the sweeper's next
    tick, each with a fresh retry window. Returns whether it was disabled."""
    _require_own(acting_user, endpoint)
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=False).update(
        enabled=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    if not changed:
        return False
    WebhookDelivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).update(
        next_attempt_at=now, first_attempt_at=None, failure_count=0, enqueued_at=None
    )
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=endpoint,
        ip=ip,
        details={"change": "enabled"},
    )
    return True


@transaction.atomic
def webhook_endpoint_delete(
    *, acting_user: User, endpoint: WebhookEndpoint, ip: str | None = None
) -> None:
    """Delete an endpoint with its deliveries and their attempts (the audit trail keeps that
    it existed)."""
    _require_own(acting_user, endpoint)
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=endpoint,
        ip=ip,
        details={"change": "deleted", "url": endpoint.url},
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def webhook_delivery_replay(
    *,
    acting_user: User,
    delivery: WebhookDelivery,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Send a delivery again now (delivered or given up), with a fresh retry window; the body
    and the ``webhook-id`` are the same, so a receiver that has it already can drop it."""
    endpoint = delivery.endpoint
    _require_own(acting_user, endpoint)
    if not endpoint.enabled:
        raise ValidationError(_("Réactivez ce point de réception avant de renvoyer un événement."))
    now = now or timezone.now()
    replayed = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(state=DeliveryState.SENDING)
        .update(
            state=DeliveryState.PENDING,
            next_attempt_at=now,
            first_attempt_at=None,
            failure_count=0,
            enqueued_at=now,
            delivered_at=None,
        )
    )
    if not replayed:
        raise ValidationError(_("Cet événement est en cours d'envoi : attendez son résultat."))
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=endpoint,
        ip=ip,
        details={
            "change": "delivery_replayed",
            "delivery": delivery.pk,
            "event": delivery.event.message_id,
        },
    )
    transaction.on_commit(lambda: _send(delivery.pk))


def _send(delivery_id: int) -> None:
    try:
        delivery_send_enqueue(delivery_id)
    except Exception:  # the sweeper sends it when the broker is back
        WebhookDelivery.objects.filter(pk=delivery_id).update(enqueued_at=None)
