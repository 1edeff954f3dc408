"""Choices of the verification pipeline. The verdicts themselves are ``admissions.enums.Verdict``:
a claim carries its verdict, and admissions never imports verifications."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestState(models.TextChoices):
    PENDING = "pending", _("En attente")
    RUNNING = "running", _("En cours")
    DONE = "done", _("Terminée")


OPEN_STATES = (RequestState.PENDING, RequestState.RUNNING)


class Trigger(models.TextChoices):
    MANUAL = "manual", _("Manuelle")
    BATCH = "batch", _("Lot")
    SCHEDULED = "scheduled", _("Planifiée")
    CLI = "cli", _("Ligne de commande")
    # The institution checks claims as soon as they are recorded (admissions/verify_on_record.py).
    ON_RECORD = "on_record", _("À l'enregistrement")
    # A person decided, without calling the source: from a document, or overriding a verdict.
    MANUAL_CHECK = "manual_check", _("Vérification manuelle")
    OVERRIDE = "override", _("Décision d'un superviseur")


# Triggers of a person's decision (no call to the source).
PERSON_TRIGGERS = (Trigger.MANUAL_CHECK, Trigger.OVERRIDE)


class AttemptOutcome(models.TextChoices):
    """What one upstream call gave (a verification may take several)."""

    ANSWERED = "answered", _("Réponse")
    NOT_FOUND = "not_found", _("Inconnu")
    RATE_LIMITED = "rate_limited", _("Limite de débit")
    CONFLICT = "conflict", _("Requête identique en cours")
    UNAVAILABLE = "unavailable", _("Indisponible")
    REJECTED = "rejected", _("Refusée")
    SKIPPED_NOT_CONFIGURED = "skipped_not_configured", _("Source non configurée")
