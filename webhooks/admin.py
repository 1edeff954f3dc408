"""The back-office's view of webhooks (read-only): endpoints of every institution, their state
and failures, never their secret; deliveries and their attempts, to find stuck or failing ones.
Institutions manage their endpoints on their own pages (/etablissement/webhooks/)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from admissions.admin import BoundedLookupsMixin, ReadOnlyAdminMixin
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["url", "institution", "enabled", "failing_since", "disabled_at", "created_at"]
    list_filter = ["enabled", "institution"]
    search_fields = ["url", "description"]
    list_select_related = ["institution"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        # Not even loaded: the page opens when it cannot be decrypted.
        return super().get_queryset(request).defer("secret")

    # Never the secret.
    fields = [
        "institution",
        "url",
        "description",
        "events",
        "enabled",
        "disabled_at",
        "disabled_reason",
        "failing_since",
        "created_by",
        "created_at",
    ]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["started_at", "outcome", "http_status", "duration_ms", "response_snippet"]
    readonly_fields = ["started_at", "outcome", "http_status", "duration_ms", "response_snippet"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "endpoint",
        "state",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["state", "endpoint__institution"]
    search_fields = ["=event__message_id", "=endpoint__id"]
    list_select_related = ["event", "endpoint"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [DeliveryAttemptInline]
