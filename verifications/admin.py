"""The back-office of the verification domain: claims and batches (read-only), the institutions'
API tokens (write-only), requests (stuck ones, with a re-queue action), attempts (read-only),
configuration alerts, and the providers' health page with a breaker reset."""

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from admissions import services
from admissions.admin import (
    AuditedViewMixin,
    BoundedLookupsMixin,
    ReadOnlyAdminMixin,
    credentials_without_tokens,
    staff_user,
    token_state,
)
from admissions.infra.client_address import client_ip
from admissions.infra.text_input import PlainTextForm
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
from verifications.services.backoffice import (
    RequeueOutcome,
    source_alert_resolve,
    source_breaker_reset,
    verification_request_requeue,
)


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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
            saved = services.credential_set(
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
