"""The back-office of the verification domain: claims and batches (read-only), the institutions'
API tokens (write-only), requests (stuck ones, with a re-queue action), attempts (read-only),
configuration alerts, and the providers' health page with a breaker reset. An institution's page
(with its tokens) and an applicant's (with their claims) are the applicant domain's pages,
extended here and registered in their place."""

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from admissions import admin as admissions_admin
from admissions.admin import (
    AuditedViewMixin,
    BoundedLookupsMixin,
    ReadOnlyAdminMixin,
    staff_user,
)
from admissions.infra import crypto
from admissions.infra.client_address import client_ip
from admissions.infra.text_input import PlainTextForm
from admissions.models import Applicant, Institution
from verifications.backoffice import provider_health, stuck_condition
from verifications.enums import Source
from verifications.models import (
    Batch,
    Claim,
    FreshnessPolicy,
    InstitutionCredential,
    InstitutionPolicy,
    SourceAlert,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.providers.limits import LimiterUnavailable
from verifications.services import credentials as credential_services
from verifications.services.backoffice import (
    RequeueOutcome,
    source_alert_resolve,
    source_breaker_reset,
    verification_request_requeue,
)


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def credentials_without_tokens() -> QuerySet[InstitutionCredential]:
    """Credentials as the back-office lists them: the token is never decrypted (a token that the
    configured keys cannot read, after a wrong key rotation, would raise), only its stored
    ciphertext is kept aside (``stored_token``) to tell whether it is still readable."""
    return InstitutionCredential.objects.defer("token").annotate(
        stored_token=Cast("token", output_field=TextField())
    )


def token_unreadable(credential: InstitutionCredential) -> bool:
    """Whether the configured keys cannot decrypt the token (of a credential from
    ``credentials_without_tokens``)."""
    stored = getattr(credential, "stored_token", None)
    return stored is not None and not crypto.readable(stored)


def token_state(credential: InstitutionCredential) -> str:
    """ "défini", or that the configured keys cannot read it and it must be entered again."""
    if token_unreadable(credential):
        return str(_("illisible avec les clés actuelles : saisissez le jeton à nouveau"))
    return str(_("défini"))


class CredentialInline(admin.TabularInline):
    model = InstitutionCredential
    extra = 0
    fields = ["source", "state", "fingerprint", "expires_at", "updated_at"]
    readonly_fields = ["source", "state", "fingerprint", "expires_at", "updated_at"]
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[InstitutionCredential]:
        return credentials_without_tokens()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("État"))
    def state(self, obj: InstitutionCredential) -> str:
        return token_state(obj)


def credential_status_rows(institution: Institution) -> list[tuple[str, str, str, str]]:
    """(source, set or not, fingerprint, expiry) for every source: what the back-office shows of
    an institution's tokens, never the tokens themselves."""
    stored = {c.source: c for c in credentials_without_tokens().filter(institution=institution)}
    now = timezone.now()
    rows = []
    for source in Source:
        credential = stored.get(source.value)
        if credential is None:
            rows.append((str(source.label), str(_("non défini")), "—", "—"))
            continue
        if credential.expires_at is None:
            expiry = str(_("inconnue"))
        else:
            expiry = date_format(timezone.localtime(credential.expires_at), "SHORT_DATE_FORMAT")
            if credential.expires_at <= now:
                expiry = f"{expiry} ({_('expiré')})"
        rows.append((str(source.label), token_state(credential), credential.fingerprint, expiry))
    return rows


class CredentialForm(PlainTextForm, forms.ModelForm):
    """Takes a new token; never renders the stored one."""

    new_token = forms.CharField(
        label=_("Nouveau jeton"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("Laissez vide pour garder le jeton actuel. Il n'est jamais réaffiché."),
    )

    class Meta:
        model = InstitutionCredential
        fields = ["institution", "source", "expires_at"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk is None and not cleaned.get("new_token"):
            self.add_error("new_token", _("Saisissez le jeton."))
        return cleaned


@admin.register(InstitutionCredential)
class InstitutionCredentialAdmin(BoundedLookupsMixin, admin.ModelAdmin):
    form = CredentialForm
    list_display = ["institution", "source", "state", "fingerprint", "expires_at", "updated_at"]
    list_filter = ["source"]
    search_fields = ["institution__name", "institution__siret"]
    readonly_fields = ["state", "fingerprint", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InstitutionCredential]:
        return credentials_without_tokens().select_related("institution")

    @admin.display(description=_("État du jeton"))
    def state(self, obj: InstitutionCredential) -> str:
        return token_state(obj) if obj.pk is not None else "—"

    def save_model(
        self, request: HttpRequest, obj: InstitutionCredential, form: Any, change: bool
    ) -> None:
        token = form.cleaned_data.get("new_token")
        if token:
            saved = credential_services.credential_set(
                acting_user=staff_user(request),
                institution=obj.institution,
                source=Source(obj.source),
                token=token,
                ip=client_ip(request),
            )
            if saved is not None:
                obj.pk = saved.pk
                obj._state.adding = False
        if obj.pk is not None and form.cleaned_data.get("expires_at") != obj.expires_at:
            InstitutionCredential.objects.filter(pk=obj.pk).update(expires_at=obj.expires_at)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (
            "institution",
            "source",
            "state",
            "new_token",
            "expires_at",
            "fingerprint",
            "updated_at",
        )


# An institution's page, with its tokens (never shown: their state, fingerprint and expiry), and
# an applicant's, with their claims: the applicant domain's pages, which know nothing of
# verifications, extended here and registered in their place.
admin.site.unregister(Institution)


@admin.register(Institution)
class InstitutionAdmin(admissions_admin.InstitutionAdmin):
    list_display = ["name", "siret", "uai", "sources", "credentials_set", "created_at"]
    readonly_fields = ["credential_status"]
    inlines = [CredentialInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Institution]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("credentials", queryset=credentials_without_tokens()))
        )

    @admin.display(description=_("Jetons définis"))
    def credentials_set(self, obj: Institution) -> str:
        credentials = list(obj.credentials.all())
        summary = f"{len({c.source for c in credentials})}/{len(Source)}"
        unreadable = sum(1 for c in credentials if token_unreadable(c))
        if unreadable:
            summary += " " + ngettext(
                "(%(n)s illisible avec les clés actuelles)",
                "(%(n)s illisibles avec les clés actuelles)",
                unreadable,
            ) % {"n": unreadable}
        return summary

    @admin.display(description=_("État des identifiants d'API"))
    def credential_status(self, obj: Institution) -> SafeString:
        if obj.pk is None:
            return SafeString("")
        return format_html_join(
            "",
            "<div>{} : {} — {} {} — {} {}</div>",
            (
                (source, state, _("empreinte"), fingerprint, _("expire le"), expiry)
                for source, state, fingerprint, expiry in credential_status_rows(obj)
            ),
        )


class ClaimInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Claim
    extra = 0
    fields = ("kind", "declared", "verdict", "verified_at", "valid_until")
    readonly_fields = fields


admin.site.unregister(Applicant)


@admin.register(Applicant)
class ApplicantAdmin(admissions_admin.ApplicantAdmin):
    inlines = [ClaimInline]


@admin.register(Claim)
class ClaimAdmin(BoundedLookupsMixin, AuditedViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "applicant",
        "kind",
        "verdict",
        "verified_at",
        "valid_until",
        "institution",
    ]
    list_filter = ["kind", "verdict", "institution"]
    search_fields = ["applicant__file_reference", "applicant__birth_name"]
    list_select_related = ["applicant", "institution"]
    raw_id_fields = ["applicant"]
    readonly_fields = ["verdict", "verdict_reason", "verified_at", "valid_until"]

    def audited_applicant_id(self, obj: Claim) -> int:
        return obj.applicant_id


@admin.register(Batch)
class BatchAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "label",
        "kind",
        "status",
        "total",
        "institution",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status", "institution"]
    search_fields = ["label", "source_filename"]
    list_select_related = ["institution", "created_by"]


class StuckFilter(admin.SimpleListFilter):
    title = _("bloquées")
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, "StrOrPromise"]]:
        return [("yes", _("Bloquées (bail expiré ou en file depuis trop longtemps)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(stuck_condition())
        return queryset


class AttemptInline(admin.TabularInline):
    model = VerificationAttempt
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "source",
        "outcome",
        "http_status",
        "provider_error_code",
        "duration_ms",
        "upstream_request_id",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerificationRequest)
class VerificationRequestAdmin(BoundedLookupsMixin, AuditedViewMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "claim",
        "state",
        "verdict",
        "trigger",
        "attempt_count",
        "not_before",
        "claimed_by",
        "created_at",
        "finished_at",
        "institution",
    ]
    list_filter = [StuckFilter, "state", "verdict", "trigger", "source", "institution"]
    search_fields = ["=id", "=claim__id", "claim__applicant__file_reference", "claimed_by"]
    actions = ["requeue"]
    date_hierarchy = "created_at"
    raw_id_fields = ["claim", "batch", "requested_by"]
    readonly_fields = [
        "state",
        "verdict",
        "reason",
        "diff",
        "evidence",
        "notes",
        "attempt_count",
        "claimed_at",
        "claimed_by",
        "created_at",
        "finished_at",
    ]
    inlines = [AttemptInline]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[VerificationRequest]:
        return super().get_queryset(request).select_related("claim", "institution")

    def audited_applicant_id(self, obj: VerificationRequest) -> int:
        return obj.claim.applicant_id

    # Requests are written by the pipeline's services; here they are only seen, and re-queued
    # through the audited action (which is why the change permission is kept).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.action(
        description=_("Remettre en file les demandes sélectionnées"), permissions=["change"]
    )
    def requeue(self, request: HttpRequest, queryset: QuerySet[VerificationRequest]) -> None:
        user = staff_user(request)
        outcomes = [
            verification_request_requeue(request_id=pk, acting_user=user, ip=client_ip(request))
            for pk in queryset.values_list("pk", flat=True)
        ]
        requeued = outcomes.count(RequeueOutcome.REQUEUED)
        skipped = len(outcomes) - requeued
        self.message_user(
            request,
            _(
                "%(requeued)d demande(s) remise(s) en file, %(skipped)d laissée(s) telle(s) "
                "quelle(s) (terminée ou encore tenue par un worker)."
            )
            % {"requeued": requeued, "skipped": skipped},
            messages.SUCCESS if requeued else messages.WARNING,
        )


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "request",
        "source",
        "outcome",
        "http_status",
        "provider_error_code",
        "duration_ms",
        "upstream_request_id",
    ]
    list_filter = ["source", "outcome", "http_status"]
    search_fields = ["=request__id", "upstream_request_id", "task_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False


# --- Retention area: institution settings are edited on the workspace's settings page (with
# their audit event); the back-office shows them.


@admin.register(InstitutionPolicy)
class InstitutionPolicyAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "institution",
        "night_start",
        "night_end",
        "timezone",
        "scheduled_share",
        "evidence_retention_months",
        "audit_retention_months",
        "updated_at",
    ]


@admin.register(FreshnessPolicy)
class FreshnessPolicyAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "institution",
        "kind",
        "enabled",
        "interval_days",
        "active_from",
        "active_until",
        "recheck_on",
        "recheck_on_campaign_change",
    ]
    list_filter = ["kind", "enabled"]


@admin.register(SourceAlert)
class SourceAlertAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Configuration alerts (401/403/422 from a source), and the providers' health page."""

    list_display = [
        "institution",
        "source",
        "code",
        "http_status",
        "count",
        "first_seen",
        "last_seen",
        "resolved_at",
    ]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter), "source", "institution"]
    search_fields = ["institution__name", "institution__siret", "code"]
    list_select_related = ["institution"]
    change_list_template = "admin/verifications/sourcealert/change_list.html"
    actions = ["resolve"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return can_reset_breakers(request)

    @admin.action(description=_("Marquer comme résolues"), permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[SourceAlert]) -> None:
        user = staff_user(request)
        resolved = sum(
            source_alert_resolve(alert_id=pk, acting_user=user, ip=client_ip(request))
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, _("%(n)d alerte(s) marquée(s) comme résolue(s).") % {"n": resolved}
        )

    def get_urls(self) -> list:
        return [
            path(
                "sante/",
                self.admin_site.admin_view(self.health_view),
                name="verifications_provider_health",
            ),
            path(
                "sante/reinitialiser/",
                self.admin_site.admin_view(require_POST(self.breaker_reset_view)),
                name="verifications_breaker_reset",
            ),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows, limiter_ok = provider_health()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Santé des sources"),
            "opts": self.model._meta,
            "rows": rows,
            "limiter_ok": limiter_ok,
            "can_reset": can_reset_breakers(request),
        }
        return TemplateResponse(request, "admin/verifications/provider_health.html", context)

    def breaker_reset_view(self, request: HttpRequest) -> HttpResponse:
        if not can_reset_breakers(request):
            raise PermissionDenied
        source = request.POST.get("source", "")
        if source not in Source.values:
            messages.error(request, _("Source inconnue."))
        else:
            try:
                source_breaker_reset(
                    source=source, acting_user=staff_user(request), ip=client_ip(request)
                )
            except LimiterUnavailable:
                messages.error(
                    request, _("L'état partagé (Redis) est injoignable : rien n'a été changé.")
                )
            else:
                messages.success(
                    request,
                    _("Disjoncteur de « %(source)s » réinitialisé.")
                    % {"source": Source(source).label},
                )
        return HttpResponseRedirect(reverse("admin:verifications_provider_health"))


def can_reset_breakers(request: HttpRequest) -> bool:
    """Superusers, and staff who may change verification requests."""
    return request.user.is_superuser or request.user.has_perm(
        "verifications.change_verificationrequest"
    )
