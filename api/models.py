"""API keys and the answers kept for idempotent replays.

An ``ApiKey`` belongs to one institution and acts through its own service account (a ``User``
whose username is ``apikey:<prefix>``, with no usable password): every service that takes the
acting user, and every audit event, works unchanged and names the key. Only a digest of the
secret is stored (``api/keys.py``)."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.models import Institution


class ApiKey(models.Model):
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("établissement")
    )
    name = models.CharField(_("nom"), max_length=100)
    # A subset of api.enums.Scope's values.
    scopes = models.JSONField(_("droits"), default=list)
    # The public part of the key (``vgk_<prefix>_<secret>``): how a request finds its key.
    prefix = models.CharField(_("préfixe"), max_length=16, unique=True)
    # sha256 of the whole key, hex (api/keys.py says why a fast hash is right here).
    secret_hash = models.CharField(_("empreinte du secret"), max_length=64, editable=False)
    # The service account the key acts as (audit trail, services' ``acting_user``).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_key",
        verbose_name=_("compte de service"),
    )
    expires_at = models.DateTimeField(_("expire le"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("créée par"),
    )
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    revoked_at = models.DateTimeField(_("révoquée le"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("révoquée par"),
    )
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    last_used_from = models.GenericIPAddressField(_("dernière adresse"), null=True, blank=True)

    class Meta:
        verbose_name = _("clé d'API")
        verbose_name_plural = _("clés d'API")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["institution", "-created_at"], name="apikey_by_institution")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class IdempotentAnswer(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key``, for replays (24 hours).

    The row is inserted before the write runs (``status`` null: in progress), so that two
    identical requests at once find each other through the unique constraint; the answer is
    stored when the write ends. ``digest`` is the sha256 of the method, path and body."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("clé d'idempotence"), max_length=255)
    digest = models.CharField(_("empreinte de la requête"), max_length=64)
    status = models.PositiveSmallIntegerField(_("statut"), null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    # The answer's own headers worth replaying (Location).
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("reçue le"), default=timezone.now)

    class Meta:
        verbose_name = _("réponse idempotente")
        verbose_name_plural = _("réponses idempotentes")
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="one_answer_per_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_by_age")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"
