"""The applicant domain: institutions and their users, applicants, and the audit trail.

What applicants declare (``Claim``), batches and the institutions' API tokens are the
verification domain's (``verifications/models.py``).

Every row that belongs to an institution carries its ``institution`` so that selectors scope
each query with one indexed condition.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from admissions import validators
from admissions.enums import AuditAction, Role, Sex, Source
from admissions.infra.append_only import AppendOnlyModel


def default_enabled_sources() -> list[str]:
    return [Source.API_PARTICULIER, Source.CVEC, Source.CERTIFINFO, Source.COVOITURAGE]


class Institution(models.Model):
    name = models.CharField(_("nom"), max_length=200)
    siret = models.CharField(
        _("SIRET"),
        max_length=14,
        unique=True,
        validators=[validators.validate_siret],
        help_text=_("Envoyé comme « recipient » à API Particulier."),
    )
    uai = models.CharField(_("UAI"), max_length=8, blank=True, validators=[validators.validate_uai])
    enabled_sources = models.JSONField(_("sources activées"), default=default_enabled_sources)
    # Check each claim as soon as it is recorded (form or import): admissions/verify_on_record.py.
    verify_on_record = models.BooleanField(
        _("vérifier les déclarations dès leur enregistrement"), default=False
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("établissement")
        verbose_name_plural = _("établissements")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def source_enabled(self, source: str) -> bool:
        return source in self.enabled_sources


# The username of an API key's service account (api.models.ApiKey.user) starts with this. A
# person's username never does: the username validator refuses ":", and people are created
# through it (services.user_create, the back-office's forms).
API_KEY_USERNAME_PREFIX = "apikey:"


class User(AbstractUser):
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
        verbose_name=_("établissement"),
    )
    role = models.CharField(_("rôle"), max_length=32, choices=Role, default=Role.CLERK)

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        constraints = [
            models.CheckConstraint(
                condition=Q(is_staff=True) | Q(institution__isnull=False),
                name="non_staff_user_has_institution",
                violation_error_message=_(
                    "Un utilisateur qui n'est pas du back-office doit appartenir à un "
                    "établissement."
                ),
            ),
        ]

    @property
    def is_api_key(self) -> bool:
        """Whether this is an API key's service account, not a person: it has no usable
        password, cannot sign in to the pages, and is not listed among the people."""
        return self.username.startswith(API_KEY_USERNAME_PREFIX)

    def get_full_name(self) -> str:
        """A person's name; an API key's service account reads « clé API « SI scolarité » »
        (its first name holds the key's name), wherever the pages and the trail name actors."""
        if self.is_api_key:
            return gettext("clé API « %(name)s »") % {"name": self.first_name}
        return super().get_full_name()

    @property
    def is_supervisor(self) -> bool:
        return self.role in {Role.SUPERVISOR, Role.INSTITUTION_ADMIN}

    @property
    def is_institution_admin(self) -> bool:
        return self.role == Role.INSTITUTION_ADMIN


class Applicant(models.Model):
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="applicants"
    )
    file_reference = models.CharField(_("référence du dossier"), max_length=64)
    birth_name = models.CharField(_("nom de naissance"), max_length=100)
    usage_name = models.CharField(_("nom d'usage"), max_length=100, blank=True)
    # 1 to 3 given names, in civil-status order: each is sent as its own `prenoms[]` item.
    first_names = models.JSONField(_("prénoms"))
    sex = models.CharField(_("sexe à l'état civil"), max_length=1, choices=Sex)
    birth_date = models.DateField(_("date de naissance"))
    ine = models.CharField(
        _("INE"), max_length=11, blank=True, validators=[validators.validate_ine]
    )
    # Names folded for search (identity.applicant_search_key), kept in step by every write.
    name_key = models.CharField(_("clé de recherche"), max_length=400, blank=True, editable=False)
    email = models.EmailField(_("courriel"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    batch = models.ForeignKey(
        "verifications.Batch",
        on_delete=models.SET_NULL,
        related_name="applicants",
        null=True,
        blank=True,
        verbose_name=_("lot d'import"),
    )
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("candidat")
        verbose_name_plural = _("candidats")
        ordering = ["birth_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "file_reference"], name="unique_file_reference"
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "birth_name", "id"], name="applicant_by_name"),
            models.Index(fields=["institution", "ine"], name="applicant_by_ine"),
            models.Index(fields=["institution", "-created_at"], name="applicant_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.birth_name} {' '.join(self.first_names)} ({self.file_reference})"

    @property
    def first_name(self) -> str:
        return self.first_names[0] if self.first_names else ""

    @property
    def display_name(self) -> str:
        name = self.birth_name
        if self.usage_name and self.usage_name != self.birth_name:
            name = f"{self.usage_name} ({self.birth_name})"
        return f"{name} {' '.join(self.first_names)}"


class AuditEvent(AppendOnlyModel):
    """Who did or saw what, when, from where and why. Append-only and hash-chained.

    Each institution has its own chain (``seq`` 1, 2, 3...); back-office actions without an
    institution form the "backoffice" chain. ``hash`` covers every field and the previous
    row's hash, so changing or removing a row breaks the chain (``manage.py audit_verify``).
    ``details`` never holds personal data: it names objects by id.
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # The chain this row belongs to: the institution's id, or "backoffice".
    chain = models.CharField(_("chaîne"), max_length=20)
    seq = models.PositiveBigIntegerField(_("numéro"))
    created_at = models.DateTimeField(_("date"))
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Who acted, as written at the time: a username, "system", "cli", "beat".
    actor_label = models.CharField(_("acteur"), max_length=150)
    action = models.CharField(_("action"), max_length=32, choices=AuditAction)
    object_type = models.CharField(_("type d'objet"), max_length=40, blank=True)
    object_id = models.CharField(_("objet"), max_length=64, blank=True)
    # The applicant concerned, if any; not a foreign key, so that the trail outlives erasure.
    applicant_id = models.BigIntegerField(_("candidat"), null=True, blank=True)
    purpose = models.CharField(_("finalité"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    details = models.JSONField(_("détails"), default=dict, blank=True)
    prev_hash = models.CharField(_("empreinte précédente"), max_length=64)
    hash = models.CharField(_("empreinte"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("événement d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq"),
        ]
        indexes = [
            models.Index(fields=["applicant_id", "-created_at"], name="audit_by_applicant"),
            # Newest first per institution: the audit view's keyset pages on (created_at, id),
            # unfiltered or filtered by action, by actor or by object type (a rare type would
            # otherwise scan every row of the institution to fill a page).
            models.Index(fields=["institution", "-created_at", "-id"], name="audit_page"),
            models.Index(
                fields=["institution", "action", "-created_at", "-id"], name="audit_by_action"
            ),
            models.Index(
                fields=["institution", "actor", "-created_at", "-id"], name="audit_by_actor"
            ),
            models.Index(
                fields=["institution", "object_type", "-created_at", "-id"],
                name="audit_by_object_type",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(AppendOnlyModel):
    """An audit chain's head (its length and last hash), signed with the deployment's key each
    night (``admissions.audit_heads``). ``audit_verify`` checks every signed head against the
    chain: a history rewritten after a head was signed, even rehashed whole, no longer has that
    hash at that row."""

    chain = models.CharField(_("chaîne"), max_length=20)
    seq = models.PositiveBigIntegerField(_("numéro"))
    hash = models.CharField(_("empreinte"), max_length=64)
    signed_at = models.DateTimeField(_("signée le"))
    # The signed bytes (canonical JSON of chain, seq, hash and signed_at) and the signature.
    payload = models.TextField(_("contenu signé"))
    key_id = models.CharField(_("clé"), max_length=16)
    signature = models.CharField(_("signature"), max_length=100)

    class Meta:
        verbose_name = _("tête de chaîne signée")
        verbose_name_plural = _("têtes de chaîne signées")
        ordering = ["chain", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="one_signed_head_per_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq}"


class AuditHeadTimestamp(AppendOnlyModel):
    """An RFC 3161 time-stamp of a signed head (``admissions.audit_heads``), when a
    time-stamping authority is configured: the authority's signed word that the signed head
    existed at ``gen_time``. A row of its own, append-only like the head, rather than a column
    of the head: the head is never updated, and a head whose time-stamp failed gets one on a
    later run."""

    head = models.OneToOneField(
        AuditHead, on_delete=models.PROTECT, related_name="timestamp", verbose_name=_("tête")
    )
    # The TimeStampToken (DER CMS SignedData). ``gen_time``, ``serial`` and ``tsa`` repeat what
    # it says, for display; ``audit_verify`` reads the token itself.
    token = models.BinaryField(_("jeton d'horodatage"))
    gen_time = models.DateTimeField(_("horodatée le"))
    serial = models.CharField(_("numéro de série"), max_length=64)
    tsa = models.CharField(_("autorité d'horodatage"), max_length=300)
    created_at = models.DateTimeField(_("enregistré le"), default=timezone.now)

    class Meta:
        verbose_name = _("horodatage de tête de chaîne")
        verbose_name_plural = _("horodatages de têtes de chaîne")

    def __str__(self) -> str:
        return f"{self.head} @ {self.gen_time.isoformat(timespec='seconds')}"
