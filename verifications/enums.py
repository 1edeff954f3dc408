"""The verification domain's vocabulary: the sources, the kinds of claim each checks, verdicts,
batches, and the pipeline's request states. It imports only the applicant domain's vocabulary
(``admissions.enums``), which imports nothing of Vigie's.

``Source`` is defined in ``admissions.enums`` (an institution enables sources: its model's default
names them, and the applicant domain imports nothing of verifications) and is this module's too:
the verification domain imports it from here."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from admissions.enums import Source as Source  # re-exported: the verification domain's vocabulary


class ClaimKind(models.TextChoices):
    """What an applicant declares, each checked against one source."""

    SCOLARITE = "scolarite", _("Scolarité")
    CVEC = "cvec", _("CVEC")
    CERTIFICATION = "certification", _("Certification")
    COVOITURAGE = "covoiturage", _("Attestation de covoiturage")

    @property
    def source(self) -> Source:
        return CLAIM_KIND_SOURCE[self]


CLAIM_KIND_SOURCE = {
    ClaimKind.SCOLARITE: Source.API_PARTICULIER,
    ClaimKind.CVEC: Source.CVEC,
    ClaimKind.CERTIFICATION: Source.CERTIFINFO,
    ClaimKind.COVOITURAGE: Source.COVOITURAGE,
}


def claim_kind_order(field: str = "kind") -> models.Case:
    """For ``order_by``: claims in ClaimKind's order, the order of the "+" buttons and of every
    list of kinds, not the values' alphabetical order."""
    return models.Case(
        *(
            models.When(**{field: kind.value}, then=models.Value(n))
            for n, kind in enumerate(ClaimKind)
        ),
        output_field=models.IntegerField(),
    )


class Verdict(models.TextChoices):
    """The outcome of a verification (docs/DESIGN.md §Request states and verdicts)."""

    CONFIRMED = "confirmed", _("Confirmé")
    CONTRADICTED = "contradicted", _("Contredit")
    MISMATCH = "mismatch", _("Identité divergente")
    NOT_FOUND = "not_found", _("Inconnu de la source")
    UNAVAILABLE = "unavailable", _("Source indisponible")
    REJECTED = "rejected", _("Requête refusée")
    MANUAL = "manual", _("Vérifié manuellement")


# Verdicts that need a person to look at the file.
VERDICTS_NEEDING_ATTENTION = frozenset(
    {Verdict.MISMATCH, Verdict.NOT_FOUND, Verdict.UNAVAILABLE, Verdict.REJECTED}
)


class BatchKind(models.TextChoices):
    IMPORT = "import", _("Import CSV")
    VERIFICATION = "verification", _("Vérification groupée")


class BatchStatus(models.TextChoices):
    # A cohort's checks being written by a worker (``services.batches.batch_prepare``): the
    # launch answers at once, the batch's page shows how far the preparation got.
    PREPARING = "preparing", _("En préparation")
    RUNNING = "running", _("En cours")
    PAUSED = "paused", _("En pause")
    DONE = "done", _("Terminé")
    FAILED = "failed", _("Échoué")


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
