"""The back-office (Django admin) for staff: every institution and its data.

Audit events are read-only. The verification domain's pages (claims, batches, the tokens, which
are write-only) are ``verifications/admin.py``'s, and so are an institution's tokens on its page
(whether each is set, its fingerprint and expiry, never the token) and an applicant's claims on
theirs: it registers subclasses of ``InstitutionAdmin`` and ``ApplicantAdmin`` in their place.
"""

import ipaddress
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import transaction
from django.db.models import GenericIPAddressField, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction, Source
from admissions.infra.client_address import client_ip
from admissions.infra.integers import ID_MAX, parse_id, parse_int
from admissions.infra.text_input import PlainTextForm
from admissions.login_throttle import ThrottledLoginFormMixin
from admissions.models import Applicant, AuditEvent, Institution, User


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


# The integer columns (ids and counts): a filter on one of them takes numbers in their range.
_INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
# The lookups whose value is a number (a list of numbers for ``in``).
_NUMBER_LOOKUPS = {"exact", "gt", "gte", "lt", "lte"}
_LIST_LOOKUPS = {"in"}


# What the date transforms give (``created_at__year``…), and the years a date can hold.
_DATE_PARTS = {
    "year": (1, 9999),
    "iso_year": (1, 9999),
    "quarter": (0, 9999),
    "month": (0, 9999),
    "week": (0, 9999),
    "day": (0, 9999),
    "week_day": (0, 9999),
    "iso_week_day": (0, 9999),
    "hour": (0, 9999),
    "minute": (0, 9999),
    "second": (0, 9999),
}
_COLUMN_RANGE = (-ID_MAX - 1, ID_MAX)


def _integer_lookup(model: Any, key: str) -> tuple[str, tuple[int, int]] | None:
    """The lookup (``exact``, ``in``…) and the range of numbers it takes, when ``key``, a
    changelist's query parameter (``batch__id__exact``, ``institution``, ``http_status__in``,
    ``created_at__year``), compares an integer with the value; else ``None`` (another type, a
    parameter that is no field)."""
    parts = key.split("__")
    opts = model._meta
    field: Any = None
    while parts:
        try:
            field = opts.pk if parts[0] == "pk" else opts.get_field(parts[0])
        except FieldDoesNotExist:
            break
        parts.pop(0)
        if not field.is_relation or field.related_model is None:
            break
        # Across a relation, the value is compared with the column it points at.
        opts = field.related_model._meta
        field = field.target_field if field.concrete else opts.pk
    if field is None:
        return None
    internal_type = getattr(field, "get_internal_type", lambda: "")()
    if internal_type in _INTEGER_TYPES:
        bounds = _COLUMN_RANGE
    elif internal_type in ("DateField", "DateTimeField") and parts and parts[0] in _DATE_PARTS:
        bounds = _DATE_PARTS[parts.pop(0)]
    else:
        return None
    lookup = parts[0] if parts else "exact"
    if len(parts) > 1 or lookup not in _NUMBER_LOOKUPS | _LIST_LOOKUPS:
        return None
    return lookup, bounds


def _integer_in_range(text: str, bounds: tuple[int, int]) -> bool:
    """A number in ``bounds``, in ASCII digits with an optional minus sign
    (``admissions.integers.parse_int``): "9999999999999999999999999" is not (SQLite raised
    ``OverflowError``, PostgreSQL ``DataError``), nor "²"."""
    low, high = bounds
    if text.startswith("-"):
        value = parse_int(text[1:], high=-low) if low < 0 else None
        return value is not None
    return parse_int(text, low=max(low, 0), high=high) is not None


def _address_lookup(model: Any, key: str) -> str | None:
    """The lookup when ``key`` compares an IP address column of the model with the value
    (PostgreSQL's ``inet`` refuses anything but an address)."""
    name, _sep, rest = key.partition("__")
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not isinstance(field, GenericIPAddressField):
        return None
    lookup = rest or "exact"
    return lookup if lookup in _NUMBER_LOOKUPS | _LIST_LOOKUPS else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class BoundedChangeList(ChangeList):
    """A changelist whose query string filters integer columns only with numbers in their
    range: ``?batch__id__exact=9999999999999999999999999`` (or ``?institution=²``) is an
    invalid filter, which the admin answers as it answers any (a redirect to ``?e=1``), not a
    database error (a 500). So is a ``__range`` filter, which no page of the admin writes and
    which Django passes on unsplit (``?birth_name__range=abc``: as many bounds as letters), a
    value holding a NUL (PostgreSQL's text and JSON refuse it), and an IP address column
    compared with what is not an address."""

    def get_filters(self, request: HttpRequest) -> Any:
        for key, values in self.get_filters_params().items():
            listed = values if isinstance(values, list) else [values]
            if key.endswith("__range") or any("\x00" in value for value in listed):
                raise IncorrectLookupParameters(key)
            if (address := _address_lookup(self.model, key)) is not None:
                for value in listed:
                    items = value.split(",") if address in _LIST_LOOKUPS else [value]
                    if not all(_is_address(item) for item in items):
                        raise IncorrectLookupParameters(key)
                continue
            found = _integer_lookup(self.model, key)
            if found is None:
                continue
            lookup, bounds = found
            for value in values if isinstance(values, list) else [values]:
                items = value.split(",") if lookup in _LIST_LOOKUPS else [value]
                if not all(_integer_in_range(item, bounds) for item in items):
                    raise IncorrectLookupParameters(key)
        return super().get_filters(request)


class BoundedLookupsMixin:
    """Every back-office list: integer filters bounded (``BoundedChangeList``), and an action
    on rows ticked by id only with ids that can exist (``?_selected_action=`` is a query
    filter too). ``tests/security/test_no_500.py`` sends generated query strings to each."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if "\x00" in search_term:  # PostgreSQL's text refuses it: no row holds one
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        if any(parse_id(pk) is None for pk in selected):
            # Not rows of this list: the list is shown again, with this message.
            self.message_user(  # type: ignore[attr-defined]
                request,
                _("Cette sélection ne désigne aucune ligne de la liste : rien n'a été modifié."),
                messages.WARNING,
            )
            return None
        return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]


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


@admin.register(Institution)
class InstitutionAdmin(BoundedLookupsMixin, AuditedSaveMixin, admin.ModelAdmin):
    """An institution's settings. Its API tokens (their state, never the tokens) are added by the
    verification domain's back-office, which registers its subclass in place of this one
    (``verifications/admin.py``)."""

    form = InstitutionForm
    changed_action = AuditAction.SETTINGS_CHANGED
    list_display = ["name", "siret", "uai", "sources", "created_at"]
    search_fields = ["name", "siret", "uai"]

    def audited_institution(self, obj: Institution) -> Institution:
        return obj

    @admin.display(description=_("Sources activées"))
    def sources(self, obj: Institution) -> str:
        return ", ".join(str(Source(s).label) for s in obj.enabled_sources if s in Source.values)


@admin.register(User)
class UserAdmin(BoundedLookupsMixin, AuditedSaveMixin, DjangoUserAdmin):
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


@admin.register(Applicant)
class ApplicantAdmin(BoundedLookupsMixin, AuditedViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: applicants and claims are written by the clerks' services (each write
    audited), and erased only through the GDPR erasure. Its claims are added by the verification
    domain's back-office, which registers its subclass in place of this one
    (``verifications/admin.py``)."""

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

    def audited_applicant_id(self, obj: Applicant) -> int:
        return obj.pk


@admin.register(AuditEvent)
class AuditEventAdmin(BoundedLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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


# Django's own registration of groups, with the back-office's bounded filters.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BoundedLookupsMixin, DjangoGroupAdmin):
    pass
