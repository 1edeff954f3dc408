from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from admissions.admin import ReadOnlyAdminMixin
from verifications.models import (
    FreshnessPolicy,
    InstitutionPolicy,
    VerificationAttempt,
    VerificationRequest,
)


class AttemptInline(admin.TabularInline):
    model = VerificationAttempt
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "source",
        "outcome",
        "http_status",
        "provider_error_code",
        "duration_ms",
        "upstream_request_id",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerificationRequest)
class VerificationRequestAdmin(admin.ModelAdmin):
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
    list_filter = ["state", "verdict", "trigger", "institution"]
    search_fields = ["=id", "=claim__id", "claim__applicant__file_reference", "claimed_by"]
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


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
class InstitutionPolicyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
class FreshnessPolicyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
