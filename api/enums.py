from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """What an API key may do. ``read`` is implied by none of the others: a key that writes
    and reads back what it wrote holds both."""

    READ = "read", _("Lecture (candidats, déclarations, verdicts)")
    WRITE = "write", _("Écriture (créer et modifier candidats et déclarations)")
    VERIFY = "verify", _("Vérification (demander des vérifications)")
    EVIDENCE = "evidence", _("Justificatifs (lire les réponses brutes des sources)")
