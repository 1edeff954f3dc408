"""An institution's scheduling and retention settings: created with the defaults on first use
(``verifications.freshness``), changed by its admin with an audit event."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.models import Institution, User
from verifications import freshness
from verifications.enums import ClaimKind
from verifications.models import FreshnessPolicy, InstitutionPolicy


POLICY_FIELDS = (
    "night_start",
    "night_end",
    "timezone",
    "scheduled_share",
    "evidence_retention_months",
    "audit_retention_months",
)
FRESHNESS_FIELDS = (
    "enabled",
    "interval_days",
    "active_from",
    "active_until",
    "recheck_on",
    "recheck_on_campaign_change",
)


def institution_policy_get(institution: Institution) -> InstitutionPolicy:
    """The institution's settings, created with the defaults if it has none yet."""
    policy = InstitutionPolicy.objects.filter(institution=institution).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return InstitutionPolicy.objects.create(
                institution=institution,
                night_start=freshness.DEFAULT_NIGHT_START,
                night_end=freshness.DEFAULT_NIGHT_END,
                timezone=freshness.DEFAULT_TIMEZONE,
                scheduled_share=freshness.DEFAULT_SCHEDULED_SHARE,
                evidence_retention_months=freshness.DEFAULT_EVIDENCE_RETENTION_MONTHS,
                audit_retention_months=freshness.DEFAULT_AUDIT_RETENTION_MONTHS,
            )
    except IntegrityError:  # created meanwhile by another process
        return InstitutionPolicy.objects.get(institution=institution)


def freshness_policies_get(institution: Institution) -> dict[str, FreshnessPolicy]:
    """One policy per claim kind, the missing ones created with the defaults."""
    policies = {p.kind: p for p in FreshnessPolicy.objects.filter(institution=institution)}
    missing = [
        FreshnessPolicy(
            institution=institution, kind=kind, **vars(freshness.DEFAULT_POLICIES[kind])
        )
        for kind in ClaimKind
        if kind not in policies
    ]
    if missing:
        FreshnessPolicy.objects.bulk_create(missing, ignore_conflicts=True)
        policies = {p.kind: p for p in FreshnessPolicy.objects.filter(institution=institution)}
    return {kind.value: policies[kind] for kind in ClaimKind}


def _value(value: Any) -> Any:
    return value.isoformat(timespec="minutes") if hasattr(value, "isoformat") else value


@transaction.atomic
def institution_settings_update(
    *,
    acting_user: User,
    settings: Mapping[str, Any],
    policies: Mapping[str, Mapping[str, Any]],
    ip: str | None = None,
) -> InstitutionPolicy:
    """Save the settings page (already validated by its forms): whether claims are checked as
    soon as recorded (``Institution.verify_on_record``), the night window, share and retention,
    and each kind's freshness policy. The audit event lists what changed, with the
    old and new values (settings, never personal data)."""
    institution = acting_user.institution if acting_user.is_institution_admin else None
    if institution is None:
        raise PermissionDenied("only an institution admin changes its settings")
    policy = institution_policy_get(institution)
    policy = InstitutionPolicy.objects.select_for_update().get(pk=policy.pk)
    changes: dict[str, Any] = {}
    changed = [f for f in POLICY_FIELDS if f in settings and getattr(policy, f) != settings[f]]
    for name in changed:
        changes[name] = [_value(getattr(policy, name)), _value(settings[name])]
        setattr(policy, name, settings[name])
    if changed:
        policy.save(update_fields=[*changed, "updated_at"])
    verify_on_record = settings.get("verify_on_record")
    if verify_on_record is not None and verify_on_record != institution.verify_on_record:
        changes["verify_on_record"] = [institution.verify_on_record, verify_on_record]
        institution.verify_on_record = verify_on_record
        institution.save(update_fields=["verify_on_record"])
    current = freshness_policies_get(institution)
    for kind, values in policies.items():
        row = current[kind]
        fields = [f for f in FRESHNESS_FIELDS if f in values and getattr(row, f) != values[f]]
        for name in fields:
            changes[f"{kind}.{name}"] = [getattr(row, name), values[name]]
            setattr(row, name, values[name])
        if fields:
            row.save(update_fields=[*fields, "updated_at"])
    if changes:
        audit_record(
            action=AuditAction.SETTINGS_CHANGED,
            actor=acting_user,
            institution=institution,
            obj=policy,
            ip=ip,
            details={"changes": changes},
        )
    return policy
