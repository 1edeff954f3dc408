from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    """What a receiver may subscribe to (docs/WEBHOOKS.md §Events)."""

    VERIFICATION_COMPLETED = "verification.completed", _("Vérification terminée")
    VERDICT_CHANGED = "verdict.changed", _("Verdict modifié")
    BATCH_FINISHED = "batch.finished", _("Lot de vérifications terminé")
    CREDENTIAL_EXPIRING = "credential.expiring", _("Jeton d'une source bientôt expiré")


class DeliveryState(models.TextChoices):
    # Waiting for its next attempt (``next_attempt_at``), or for its endpoint to be enabled.
    PENDING = "pending", _("En attente")
    # A worker holds it (``claimed_by``) and is calling the receiver.
    SENDING = "sending", _("Envoi en cours")
    DELIVERED = "delivered", _("Livré")
    # Every attempt of the retry window failed (it can be replayed).
    FAILED = "failed", _("Échec")


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", _("Reçu (2xx)")
    HTTP_ERROR = "http_error", _("Refusé (code HTTP)")
    TIMEOUT = "timeout", _("Pas de réponse à temps")
    CONNECTION_ERROR = "connection_error", _("Connexion impossible")
    # Not sent: the host resolves to an address of a private network (webhooks/addresses.py).
    BLOCKED = "blocked", _("Adresse non publique, envoi refusé")
    # Not sent: the stored secret does not decrypt with the configured keys (a wrong rotation
    # of FIELD_ENCRYPTION_KEY); nothing can be signed until it is readable again.
    SECRET_UNREADABLE = "secret_unreadable", _("Secret illisible, envoi impossible")
