"""Choices of the applicant domain. Values are stable identifiers; labels are French.

The verification vocabulary (claim kinds, verdicts, batches) is ``verifications.enums``; the
sources are defined here, because an institution enables them (``Institution.enabled_sources``),
and ``verifications.enums`` re-exports them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLERK = "clerk", _("Agent de scolarité")
    SUPERVISOR = "supervisor", _("Superviseur")
    INSTITUTION_ADMIN = "institution_admin", _("Administrateur de l'établissement")


class Sex(models.TextChoices):
    FEMALE = "F", _("Féminin")
    MALE = "M", _("Masculin")


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
    # A verification batch's life (``verifications/services/batches.py``). Until 2026-12 they
    # were ``edited`` with a ``change`` detail, which ``audit_words.action_label`` reads so.
    BATCH_PAUSED = "batch_paused", _("Mise en pause")
    BATCH_RESUMED = "batch_resumed", _("Reprise")
    BATCH_RERUN = "batch_rerun", _("Relance des échecs")
    CERTIFICATE_ISSUED = "certificate_issued", _("Certificat délivré")
    CERTIFICATE_CHECKED = "certificate_checked", _("Certificat contrôlé")


class Source(models.TextChoices):
    """A government API Vigie calls."""

    API_PARTICULIER = "api_particulier", _("API Particulier (statut élève scolarisé)")
    CVEC = "cvec", _("API de contrôle de la CVEC")
    CERTIFINFO = "certifinfo", _("Certif Info")
    COVOITURAGE = "covoiturage", _("Registre de preuve de covoiturage")
