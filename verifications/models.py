"""The verification domain's rows: what applicants declare (claims), batches, the institutions'
API tokens; a request per check (its current state, and the outbox of the Celery task), and one
append-only attempt per upstream call."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from admissions.infra.append_only import AppendOnlyModel
from admissions.infra.fields import EncryptedTextField
from admissions.models import Applicant, Institution, User
from verifications.claims import claim_question_digest
from verifications.enums import (
    OPEN_STATES,
    AttemptOutcome,
    BatchKind,
    BatchStatus,
    ClaimKind,
    RequestState,
    Source,
    Trigger,
    Verdict,
)


class CredentialManager(models.Manager["InstitutionCredential"]):
    """Credentials load without their token: only the code that sends it asks for it
    (``.only("token")``, or reading ``credential.token``, which loads it then). A token the
    configured keys cannot decrypt (after a wrong key rotation) raises where it is read, and so
    only there: not on the dashboard, the back-office lists or the daily expiry check."""

    def get_queryset(self) -> models.QuerySet["InstitutionCredential"]:
        return super().get_queryset().defer("token")


class InstitutionCredential(models.Model):
    """An institution's token for one source, encrypted at rest and never displayed back."""

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="credentials"
    )
    source = models.CharField(_("source"), max_length=32, choices=Source)
    token = EncryptedTextField(_("jeton"))
    fingerprint = models.CharField(_("empreinte"), max_length=16, editable=False)
    # Read from the token itself when it is a JWT (its `exp`), without checking the signature.
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    # The smallest warning threshold (days before expiry) already e-mailed for this token.
    expiry_warned_days = models.PositiveSmallIntegerField(
        _("dernier avertissement d'expiration (jours)"), null=True, blank=True, editable=False
    )
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    objects = CredentialManager()

    class Meta:
        db_table = "admissions_institutioncredential"  # its table from before the move to this app
        verbose_name = _("identifiant d'API")
        verbose_name_plural = _("identifiants d'API")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "source"], name="one_credential_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} / {self.get_source_display()}"


class Batch(models.Model):
    """A CSV import or a cohort verification, with who launched it and when."""

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(_("type"), max_length=16, choices=BatchKind)
    label = models.CharField(_("libellé"), max_length=200)
    status = models.CharField(
        _("état"), max_length=16, choices=BatchStatus, default=BatchStatus.RUNNING
    )
    total = models.PositiveIntegerField(_("total"), default=0)
    source_filename = models.CharField(_("fichier"), max_length=255, blank=True)
    # A cohort verification launched in the background (``BatchStatus.PREPARING``): the
    # cohort as chosen (``selectors.cohort_claims``'s arguments), how many claims it had at
    # the launch, and how many a worker has gone through so far.
    cohort = models.JSONField(_("cohorte"), default=dict, blank=True)
    to_prepare = models.PositiveIntegerField(_("déclarations à préparer"), default=0)
    prepared = models.PositiveIntegerField(_("déclarations préparées"), default=0)
    # When a worker last wrote a part: a preparation that has not moved for
    # ``VIGIE_BATCH_PREPARE_STALE_SECONDS`` lost its worker and is sent again.
    prepared_at = models.DateTimeField(_("dernière préparation"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    # A verification of an import's claims ("Vérifier les déclarations importées", or the checks
    # of an institution that verifies claims as soon as they are recorded): the import.
    import_batch = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        related_name="verifications",
        null=True,
        blank=True,
        verbose_name=_("import vérifié"),
    )

    class Meta:
        db_table = "admissions_batch"  # its table from before the move to this app
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["institution", "-created_at"], name="batch_recent")]

    def __str__(self) -> str:
        return self.label


class Claim(models.Model):
    """Something the applicant declares, checked against one government source."""

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="claims")
    kind = models.CharField(_("type"), max_length=16, choices=ClaimKind)
    # Shape per kind in verifications/claims.py; always written through clean_declared().
    declared = models.JSONField(_("déclaration"))
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict, blank=True)
    verdict_reason = models.TextField(_("motif"), blank=True)
    verified_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valable jusqu'au"), null=True, blank=True)
    # What a check of this claim asks its source now (``claims.question_digest``): kept in step
    # with the declaration and the applicant's identity by every write. A verdict reached for
    # another question is never recorded on the claim.
    question_digest = models.CharField(
        _("empreinte de la question"), max_length=64, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        db_table = "admissions_claim"  # its table from before the move to this app
        verbose_name = _("déclaration")
        verbose_name_plural = _("déclarations")
        ordering = ["applicant", "kind", "id"]
        indexes = [
            models.Index(fields=["institution", "verdict"], name="claim_by_verdict"),
            models.Index(fields=["institution", "kind", "verdict"], name="claim_by_kind"),
            models.Index(fields=["valid_until"], name="claim_by_validity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.applicant_id}"

    def save(self, *args, **kwargs) -> None:
        # A derived column, like a slug: filled from the declaration and the applicant when a
        # claim is first written; the services keep it in step afterwards.
        if not self.question_digest:
            self.question_digest = claim_question_digest(self)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "question_digest"}
        super().save(*args, **kwargs)


class VerificationRequest(models.Model):
    """One check of one claim, from request to verdict.

    ``pending`` rows are the outbox: the task is queued on commit, and the sweeper re-queues
    any that no worker took. A worker claims a row by conditional update (``running`` with a
    lease in ``claimed_at``/``claimed_by``); ``not_before`` holds every wait longer than a
    second or two. At most one request per claim is open at a time.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="requests")
    # The claim's source, copied so that the dispatcher selects per source on one index.
    source = models.CharField(_("source"), max_length=32, choices=Source)
    state = models.CharField(
        _("état"), max_length=16, choices=RequestState, default=RequestState.PENDING
    )
    trigger = models.CharField(_("déclencheur"), max_length=16, choices=Trigger)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("demandée par"),
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="requests", null=True, blank=True
    )
    not_before = models.DateTimeField(_("pas avant"), null=True, blank=True)
    # When a task message was last sent for this row; a pending row whose message is older
    # than a minute was lost (broker restart, killed worker) and is sent again.
    enqueued_at = models.DateTimeField(_("mise en file le"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("prise le"), null=True, blank=True)
    claimed_by = models.CharField(_("prise par"), max_length=128, blank=True)
    attempt_count = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    # Calls that failed for a reason that may go away (timeouts, 5xx): bounded.
    failure_count = models.PositiveSmallIntegerField(_("échecs"), default=0)
    # Since when the source has been failing for this request (failures, open breaker).
    failing_since = models.DateTimeField(_("en échec depuis"), null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict, blank=True)
    # Stable code of the verdict's reason (verdicts.REASONS) and the text as shown then.
    reason_code = models.CharField(_("code du motif"), max_length=64, blank=True)
    reason = models.TextField(_("motif"), blank=True)
    reason_params = models.JSONField(_("paramètres du motif"), default=dict, blank=True)
    # Field-by-field comparison: [{"field", "declared", "source", "match"}...].
    diff = models.JSONField(_("écarts"), default=list, blank=True)
    # The minimum the decision rests on (never a whole upstream payload); purged on schedule.
    evidence = models.JSONField(_("éléments de preuve"), default=dict, blank=True)
    # SHA-256 of the evidence as recorded (canonical JSON): it outlives the purge, so evidence
    # produced later (a copy kept by the institution) can still be matched to the verdict.
    evidence_hash = models.CharField(_("empreinte des preuves"), max_length=64, blank=True)
    evidence_purged_at = models.DateTimeField(_("preuves purgées le"), null=True, blank=True)
    # The source's own caveats about its data, shown next to the verdict.
    notes = models.JSONField(_("réserves"), default=list, blank=True)
    note_codes = models.JSONField(_("codes des réserves"), default=list, blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    # Re-running a batch's failures replaces their requests by new ones in the same batch: the
    # replaced ones stay (history) but no longer count in the batch's progress and results.
    superseded = models.BooleanField(_("remplacée"), default=False)
    # What was asked of the source: a digest of the claim's declaration and, for the kinds
    # the sources match on a person, the identity sent (``verifications.claims.question_digest``).
    # A verdict whose digest is not the claim's current one concerns a previous declaration.
    question_digest = models.CharField(_("empreinte de la question"), max_length=64, blank=True)
    # An identity variant a person chose to try after a "not found" (``verifications.rematch``):
    # {"key": ..., "changes": {field: value}}. Empty for the claim's own question.
    variant = models.JSONField(_("variante essayée"), default=dict, blank=True)
    variant_key = models.CharField(_("variante"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("demande de vérification")
        verbose_name_plural = _("demandes de vérification")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open check of the claim's own question, and one per variant being tried.
            models.UniqueConstraint(
                fields=["claim", "variant_key"],
                condition=Q(state__in=OPEN_STATES),
                name="one_open_request_per_question",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "source", "not_before"], name="request_due"),
            models.Index(fields=["institution", "state"], name="request_by_state"),
            models.Index(fields=["batch", "state", "verdict"], name="request_by_batch"),
            models.Index(fields=["claim", "-created_at"], name="request_by_claim"),
            # The analytics' live tail and the rollup's days (verifications/analytics.py).
            models.Index(
                fields=["institution", "finished_at"],
                name="request_finished",
                condition=Q(state=RequestState.DONE),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.state} {self.verdict}"


class VerificationAttempt(AppendOnlyModel):
    """One upstream call: what was asked of whom, how it went and how long it took.

    Append-only. ``payload`` is redacted: keys, statuses and error codes, never an identity.
    The retention purge may blank it (``PURGEABLE_FIELDS``, see ``admissions.infra.append_only``).
    """

    PURGEABLE_FIELDS = ("payload",)

    request = models.ForeignKey(
        VerificationRequest, on_delete=models.PROTECT, related_name="attempts"
    )
    created_at = models.DateTimeField(_("date"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=32, choices=Source)
    task_id = models.CharField(_("tâche"), max_length=64, blank=True)
    outcome = models.CharField(_("résultat"), max_length=32, choices=AttemptOutcome)
    http_status = models.PositiveSmallIntegerField(_("statut HTTP"), null=True, blank=True)
    provider_error_code = models.CharField(_("code d'erreur"), max_length=32, blank=True)
    duration_ms = models.PositiveIntegerField(_("durée (ms)"), null=True, blank=True)
    upstream_request_id = models.CharField(_("identifiant amont"), max_length=128, blank=True)
    payload = models.JSONField(_("trace expurgée"), default=dict, blank=True)

    class Meta:
        verbose_name = _("tentative")
        verbose_name_plural = _("tentatives")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["request", "created_at"], name="attempt_by_request")]

    def __str__(self) -> str:
        return f"{self.source} {self.outcome} {self.http_status or ''}"


class SourceAlert(models.Model):
    """A source refused an institution's requests (401, 403, 422): something an admin must fix.

    One row per institution, source and error code, counted while it lasts; resolved when the
    source answers again or an admin marks it so.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(_("source"), max_length=32, choices=Source)
    code = models.CharField(_("code"), max_length=32)
    http_status = models.PositiveSmallIntegerField(_("statut HTTP"), null=True, blank=True)
    count = models.PositiveIntegerField(_("occurrences"), default=1)
    first_seen = models.DateTimeField(_("première fois"), auto_now_add=True)
    last_seen = models.DateTimeField(_("dernière fois"))
    resolved_at = models.DateTimeField(_("résolue le"), null=True, blank=True)

    class Meta:
        verbose_name = _("alerte de configuration")
        verbose_name_plural = _("alertes de configuration")
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "source", "code"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_alert_per_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} {self.source} {self.code}"


class InstitutionPolicy(models.Model):
    """An institution's scheduling and retention settings (created with defaults on first use;
    see ``verifications.freshness`` for the defaults and why)."""

    institution = models.OneToOneField(Institution, on_delete=models.CASCADE, related_name="policy")
    night_start = models.TimeField(_("début de la fenêtre de nuit"))
    night_end = models.TimeField(_("fin de la fenêtre de nuit"))
    timezone = models.CharField(_("fuseau horaire"), max_length=64, default="Europe/Paris")
    # Percentage of each source's rate the scheduled re-checks may use.
    scheduled_share = models.PositiveSmallIntegerField(_("part du débit (%)"))
    evidence_retention_months = models.PositiveSmallIntegerField(
        _("conservation des preuves (mois)")
    )
    audit_retention_months = models.PositiveSmallIntegerField(
        _("conservation du journal d'audit (mois)")
    )
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("paramètres de l'établissement")
        verbose_name_plural = _("paramètres des établissements")

    def __str__(self) -> str:
        return str(self.institution)


class FreshnessPolicy(models.Model):
    """When one kind of claim of one institution is re-checked by the scheduler.

    A claim is due when its verdict's own ``valid_until`` has passed, or when it was last
    checked before the cut-off this policy gives (``verifications.freshness.recheck_cutoff``).
    Dates of the year are stored as "MM-DD".
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="freshness_policies"
    )
    kind = models.CharField(_("type"), max_length=16, choices=ClaimKind)
    enabled = models.BooleanField(_("re-vérification planifiée"), default=True)
    interval_days = models.PositiveSmallIntegerField(_("tous les (jours)"), null=True, blank=True)
    # The periodic re-check runs only between these dates (applications open); blank: all year.
    active_from = models.CharField(_("du"), max_length=5, blank=True)
    active_until = models.CharField(_("au"), max_length=5, blank=True)
    # Once a year, everything checked before this date is re-checked (start of the school
    # year, enrolment day).
    recheck_on = models.CharField(_("et chaque année le"), max_length=5, blank=True)
    # Re-check when the academic year (the CVEC campaign) changes, on 1 September.
    recheck_on_campaign_change = models.BooleanField(_("au changement de campagne"), default=False)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("politique de fraîcheur")
        verbose_name_plural = _("politiques de fraîcheur")
        ordering = ["institution", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "kind"], name="one_policy_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.institution} / {self.get_kind_display()}"


class VerdictChange(models.Model):
    """A check changed a claim's definitive verdict: the claim's clerk is told (dashboard and
    e-mail). Both requests are kept, so the history shows both verdicts."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="verdict_changes")
    request = models.ForeignKey(VerificationRequest, on_delete=models.CASCADE, related_name="+")
    previous_request = models.ForeignKey(
        VerificationRequest, on_delete=models.CASCADE, related_name="+"
    )
    previous_verdict = models.CharField(_("verdict précédent"), max_length=16, choices=Verdict)
    verdict = models.CharField(_("nouveau verdict"), max_length=16, choices=Verdict)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("destinataire"),
    )
    created_at = models.DateTimeField(_("date"), auto_now_add=True)
    emailed_at = models.DateTimeField(_("envoyé par courriel le"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("vu le"), null=True, blank=True)

    class Meta:
        verbose_name = _("changement de verdict")
        verbose_name_plural = _("changements de verdict")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "dismissed_at"], name="verdict_change_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.previous_verdict} -> {self.verdict}"


class Certificate(models.Model):
    """A signed certificate of one check (a source's verdict, or a person's decision): the PDF
    anyone can authenticate (docs/CERTIFICATES.md).

    ``payload`` is the exact signed text (canonical JSON): the PDF is rebuilt from it, in French
    or English, and always carries the same signed bytes. It names the applicant (name and file
    reference only), so erasing the applicant blanks it; the certificate then reads "revoked"
    online, and the rest of the row (the verdict and the signature's digest) stays as the trace
    of what was issued.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    request = models.OneToOneField(
        VerificationRequest,
        on_delete=models.SET_NULL,
        related_name="certificate",
        null=True,
        blank=True,
    )
    # Random, not a sequence: numbers say nothing of how many were issued, and a guess finds
    # nothing without the code printed beside it.
    number = models.CharField(_("numéro"), max_length=16, unique=True)
    # Derived from the signature, printed on the certificate; asked with the number online.
    code = models.CharField(_("code de contrôle"), max_length=8)
    kind = models.CharField(_("type"), max_length=16, choices=ClaimKind)
    source = models.CharField(_("source"), max_length=32, choices=Source)
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict)
    payload = models.TextField(_("contenu signé"), blank=True)
    payload_digest = models.CharField(_("empreinte du contenu"), max_length=64)
    key_id = models.CharField(_("clé"), max_length=16)
    signature = models.CharField(_("signature"), max_length=100)
    issued_at = models.DateTimeField(_("délivré le"), auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    # Set when the applicant is erased: the certificate no longer vouches for anything.
    erased_at = models.DateTimeField(_("effacé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("certificat de vérification")
        verbose_name_plural = _("certificats de vérification")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return self.number


class CertificateArchive(models.Model):
    """A batch's certificates, one PDF per check in one ZIP, built by a worker in the background
    (``verifications.services.certificates.certificate_archive_build``) with its progress shown
    on the batch's page. The file lives in the default storage (``MEDIA_ROOT``)."""

    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Prête")
        FAILED = "failed", _("Échouée")

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="certificate_archives")
    language = models.CharField(_("langue"), max_length=2, default="fr")
    state = models.CharField(_("état"), max_length=16, choices=State, default=State.PENDING)
    total = models.PositiveIntegerField(_("certificats à produire"), default=0)
    done = models.PositiveIntegerField(_("certificats produits"), default=0)
    file = models.FileField(_("fichier"), upload_to="certificate-archives/", blank=True)
    # The public check page's address as the person asking reached Vigie (the worker has no
    # request to build it from): printed on each certificate.
    verify_url = models.CharField(_("adresse de vérification"), max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("demandée le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("archive de certificats")
        verbose_name_plural = _("archives de certificats")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.language} {self.state}"


class BatchExport(models.Model):
    """A batch's results as an XLSX file, written by a worker in the background
    (``verifications.services.exports.batch_export_build``) as a batch's certificates are
    (``CertificateArchive``: the same states, progress and storage), offered for download on the
    batch's page once ready, and deleted after ``VIGIE_EXPORT_RETENTION_HOURS``
    (``batch_exports_expire``, a beat task): ``expired_at`` says when, the row stays."""

    State = CertificateArchive.State

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="exports")
    file_format = models.CharField(_("format"), max_length=8, default="xlsx")
    # The language of the file's headers and labels: that of the person who asked.
    language = models.CharField(_("langue"), max_length=2, default="fr")
    state = models.CharField(_("état"), max_length=16, choices=State, default=State.PENDING)
    total = models.PositiveIntegerField(_("lignes à écrire"), default=0)
    done = models.PositiveIntegerField(_("lignes écrites"), default=0)
    file = models.FileField(_("fichier"), upload_to="batch-exports/", blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    expired_at = models.DateTimeField(_("fichier supprimé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("export de résultats")
        verbose_name_plural = _("exports de résultats")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.file_format} {self.state}"


class AnalyticsDay(models.Model):
    """The analytics page's figures of one day (Europe/Paris), kind and source, for one
    institution: the sources' answers to the claims' own questions that finished that day,
    rolled up by ``verifications/services/analytics_rollup.py`` (verifications/analytics.py
    says what each count means). Derived data: rebuilt whole by ``manage.py analytics_rollup``.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("jour"))
    kind = models.CharField(_("type"), max_length=32, choices=ClaimKind)
    source = models.CharField(_("source"), max_length=32, choices=Source)
    # {verdict: answers}
    verdicts = models.JSONField(default=dict)
    # Answers that were their claim's first, and of those, confirmed.
    first_checked = models.PositiveIntegerField(default=0)
    first_confirmed = models.PositiveIntegerField(default=0)
    # Request to verdict: {bucket: [answers, sum of their seconds]} (analytics.delay_bucket).
    delays = models.JSONField(default=dict)
    # [[verdict, reason code, error code, error status, answers], ...] for the explained verdicts.
    reasons = models.JSONField(default=list)

    class Meta:
        verbose_name = _("jour d'analyses")
        verbose_name_plural = _("jours d'analyses")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "day", "kind", "source"], name="analytics_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.day} {self.kind}"


class AnalyticsPeriod(models.Model):
    """The rollup's days after ``after_day`` and before ``until_day`` summed for one kind
    (blank: every kind), as ``analytics.Fold.to_json`` writes them: kept at each roll for each
    period the page offers, so that a page reads one row instead of a year of days."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("type"), max_length=32, choices=ClaimKind, blank=True)
    after_day = models.DateField(_("après le"))
    until_day = models.DateField(_("avant le"))
    fold = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("période d'analyses")
        verbose_name_plural = _("périodes d'analyses")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "kind", "after_day", "until_day"],
                name="analytics_period_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.after_day}..{self.until_day} {self.kind}"


class AnalyticsRollup(models.Model):
    """How far an institution's analytics are rolled up: every day before ``rolled_until`` is
    in ``AnalyticsDay``; from it on, the page counts the requests themselves."""

    institution = models.OneToOneField(
        Institution, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    rolled_until = models.DateField(_("jours cumulés jusqu'au"))
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("cumul d'analyses")
        verbose_name_plural = _("cumuls d'analyses")

    def __str__(self) -> str:
        return f"{self.institution_id} < {self.rolled_until}"
