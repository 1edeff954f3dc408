"""The back-office (Django admin) for staff: every institution and its data.

Audit events are read-only. The verification domain's pages (claims, batches, the tokens, which
are write-only) are ``verifications/admin.py``'s; an institution's page shows whether each token
is set, its fingerprint and expiry, never the token.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.infra import crypto
from admissions.infra.client_address import client_ip
from admissions.infra.text_input import PlainTextForm
from admissions.login_throttle import ThrottledLoginFormMixin
from admissions.models import Applicant, AuditEvent, Institution, User
from verifications.enums import Source
from verifications.models import Claim, InstitutionCredential


class ThrottledAdminLoginForm(PlainTextForm, ThrottledLoginFormMixin, AdminAuthenticationForm):
    """The back-office login, throttled like the clerks' (admissions/login_throttle.py)."""


admin.site.login_form = ThrottledAdminLoginForm
admin.site.site_header = _("Vigie — back-office")
admin.site.site_title = _("Vigie — back-office")


BACKOFFICE_VIEW_PURPOSE = "consultation depuis le back-office"


def staff_user(request: HttpRequest) -> User:
    """Who makes a back-office request: the admin site lets in only signed-in staff, so an
    anonymous request never gets here (and is refused if it does)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class AuditedViewMixin:
    """Opening one applicant's record (identity, declarations, evidence) in the back-office is a
    view of personal data: an audit event, as in the clerk interface (``viewed``, in the
    institution's chain, with the staff member as actor)."""

    def audited_applicant_id(self, obj: Any) -> int | None:
        raise NotImplementedError

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                with transaction.atomic():
                    audit_record(
                        action=AuditAction.VIEWED,
                        actor=staff_user(request),
                        institution=obj.institution,
                        obj=obj,
                        applicant_id=self.audited_applicant_id(obj),
                        purpose=BACKOFFICE_VIEW_PURPOSE,
                        ip=client_ip(request),
                    )
        return response


class AuditedSaveMixin:
    """Saving an institution or a user in the back-office is an audit event, in the same
    transaction (the admin wraps each save in one): which fields changed, never their values."""

    created_action = AuditAction.CREATED
    changed_action = AuditAction.EDITED

    def audited_institution(self, obj: Any) -> Institution | None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        audit_record(
            action=self.changed_action if change else self.created_action,
            actor=staff_user(request),
            institution=self.audited_institution(obj),
            obj=obj,
            ip=client_ip(request),
            purpose="back-office",
            details={"fields": sorted(form.changed_data)},
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Audit events and applicants refer to them: deactivate rather than delete.
        return False


class ReadOnlyAdminMixin:
    """Rows that are evidence: visible, searchable, never edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InstitutionForm(PlainTextForm, forms.ModelForm):
    enabled_sources = forms.MultipleChoiceField(
        label=_("Sources activées"),
        choices=Source.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Institution
        fields = ["name", "siret", "uai", "enabled_sources"]


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


@admin.register(Institution)
class InstitutionAdmin(AuditedSaveMixin, admin.ModelAdmin):
    form = InstitutionForm
    changed_action = AuditAction.SETTINGS_CHANGED
    list_display = ["name", "siret", "uai", "sources", "credentials_set", "created_at"]
    search_fields = ["name", "siret", "uai"]
    readonly_fields = ["credential_status"]
    inlines = [CredentialInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Institution]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("credentials", queryset=credentials_without_tokens()))
        )

    def audited_institution(self, obj: Institution) -> Institution:
        return obj

    @admin.display(description=_("Sources activées"))
    def sources(self, obj: Institution) -> str:
        return ", ".join(str(Source(s).label) for s in obj.enabled_sources if s in Source.values)

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


@admin.register(User)
class UserAdmin(AuditedSaveMixin, DjangoUserAdmin):
    list_display = [
        "username",
        "get_full_name",
        "institution",
        "role",
        "is_active",
        "is_staff",
        "last_login",
    ]
    list_filter = ["role", "is_active", "is_staff", "institution"]
    search_fields = ["username", "first_name", "last_name", "email", "institution__name"]
    list_select_related = ["institution"]
    fieldsets = [
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Établissement"), {"fields": ["institution", "role"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        (_("Établissement"), {"fields": ["institution", "role"]}),
    ]

    def audited_institution(self, obj: User) -> Institution | None:
        return obj.institution


class ClaimInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Claim
    extra = 0
    fields = ("kind", "declared", "verdict", "verified_at", "valid_until")
    readonly_fields = fields


@admin.register(Applicant)
class ApplicantAdmin(AuditedViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: applicants and claims are written by the clerks' services (each write
    audited), and erased only through the GDPR erasure."""

    list_display = [
        "file_reference",
        "birth_name",
        "usage_name",
        "first_names",
        "birth_date",
        "institution",
        "created_at",
    ]
    list_filter = ["institution", "sex"]
    search_fields = ["file_reference", "birth_name", "usage_name", "ine"]
    list_select_related = ["institution"]
    raw_id_fields = ["batch", "created_by"]
    date_hierarchy = "created_at"
    inlines = [ClaimInline]

    def audited_applicant_id(self, obj: Applicant) -> int:
        return obj.pk


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "chain",
        "seq",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "applicant_id",
        "ip",
    ]
    list_filter = ["action", "object_type", "institution"]
    search_fields = ["actor_label", "object_id", "purpose", "=applicant_id", "hash"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return super().get_queryset(request).select_related("institution", "actor")
