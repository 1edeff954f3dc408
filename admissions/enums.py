"""Choices of the applicant domain. Values are stable identifiers; labels are French."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLERK = "clerk", _("Agent de scolarité")
    SUPERVISOR = "supervisor", _("Superviseur")
    INSTITUTION_ADMIN = "institution_admin", _("Administrateur de l'établissement")


class Sex(models.TextChoices):
    FEMALE = "F", _("Féminin")
    MALE = "M", _("Masculin")


class Source(models.TextChoices):
    """A government API Vigie calls."""

    API_PARTICULIER = "api_particulier", _("API Particulier (statut élève scolarisé)")
    CVEC = "cvec", _("API de contrôle de la CVEC")
    CERTIFINFO = "certifinfo", _("Certif Info")
    COVOITURAGE = "covoiturage", _("Registre de preuve de covoiturage")


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
    RUNNING = "running", _("En cours")
    PAUSED = "paused", _("En pause")
    DONE = "done", _("Terminé")
    FAILED = "failed", _("Échoué")


class AuditAction(models.TextChoices):
    CREATED = "created", _("Création")
    EDITED = "edited", _("Modification")
    IMPORTED = "imported", _("Import")
    VERIFICATION_REQUESTED = "verification_requested", _("Vérification demandée")
    VERDICT_RECORDED = "verdict_recorded", _("Verdict enregistré")
    VIEWED = "viewed", _("Consultation")
    EXPORTED = "exported", _("Export")
    OVERRIDDEN = "overridden", _("Verdict modifié")
    MANUALLY_VERIFIED = "manually_verified", _("Vérification manuelle")
    ERASED = "erased", _("Effacement")
    PURGED = "purged", _("Purge")
    CREDENTIAL_CHANGED = "credential_changed", _("Identifiant d'API modifié")
    SETTINGS_CHANGED = "settings_changed", _("Paramètres modifiés")
    LOGGED_IN = "logged_in", _("Connexion")
    LOGGED_OUT = "logged_out", _("Déconnexion")
    LOGIN_FAILED = "login_failed", _("Échec de connexion")
    CREDENTIAL_EXPIRY_WARNED = "credential_expiry_warned", _("Avertissement d'expiration de jeton")
    CERTIFICATE_ISSUED = "certificate_issued", _("Certificat délivré")
    CERTIFICATE_CHECKED = "certificate_checked", _("Certificat contrôlé")


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    """``value``'s label in the active language, or ``value`` itself if it is not a choice.

    For rows by the thousand (exports, the applicant list): a model's ``get_FOO_display()``
    rebuilds the field's whole choices, hashing each lazy label, at every call; this is one
    enum lookup."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
