"""Writes of the applicant domain. Each service is one transaction that records its audit event.

Services take keyword-only arguments and the acting user explicitly; views only validate input
and call them. Validation errors are raised as ``ValidationError`` keyed by field, in French.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.claim_hooks import claim_hooks
from admissions.enums import AuditAction, Role
from admissions.identity import applicant_search_key, clean_identity
from admissions.models import Applicant, Institution, User
from admissions.validators import normalize_siret, normalize_uai
from admissions.verify_on_record import claims_verify_on_commit


def _require_institution(user: User) -> Institution:
    institution = user.institution
    if institution is None:
        raise PermissionDenied("this user belongs to no institution")
    return institution


@transaction.atomic
def institution_create(
    *, name: str, siret: str, uai: str = "", acting_user: User | None = None
) -> Institution:
    institution = Institution(
        name=name.strip(), siret=normalize_siret(siret), uai=normalize_uai(uai)
    )
    institution.full_clean()
    institution.save()
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=institution,
        obj=institution,
        actor_label="" if acting_user else "system",
    )
    return institution


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    institution: Institution | None,
    role: Role = Role.CLERK,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    acting_user: User | None = None,
) -> User:
    user = User(
        username=username,
        institution=institution,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=institution,
        obj=user,
        details={"role": role},
    )
    return user


def _check_file_reference_free(
    institution: Institution, file_reference: str, *, exclude_id: int | None = None
) -> None:
    taken = Applicant.objects.filter(institution=institution, file_reference=file_reference)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise _file_reference_taken(file_reference)


def _file_reference_taken(file_reference: str) -> ValidationError:
    return ValidationError(
        {
            "file_reference": _("Un dossier porte déjà la référence « %(ref)s ».")
            % {"ref": file_reference}
        }
    )


def _save_applicant(applicant: Applicant, **kwargs: Any) -> None:
    """Save in a savepoint: a reference another transaction took after the check above (the
    unique constraint ``unique_file_reference`` is the last word) is the same form error, not a
    crash of the whole request."""
    try:
        with transaction.atomic():
            applicant.save(**kwargs)
    except IntegrityError as exc:
        raise _file_reference_taken(applicant.file_reference) from exc


@transaction.atomic
def applicant_create(
    *,
    acting_user: User,
    identity: Mapping[str, Any],
    claims: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ip: str | None = None,
) -> Applicant:
    """Create an applicant and their claims, validating everything before writing anything.
    The claims are the verification domain's: cleaned and stored through its hooks
    (``admissions/claim_hooks.py``)."""
    institution = _require_institution(acting_user)
    cleaned = clean_identity(identity)
    hooks = claim_hooks()
    cleaned_claims = [(kind, hooks.clean(kind, declared)) for kind, declared in claims]
    _check_file_reference_free(institution, cleaned["file_reference"])
    applicant = Applicant(institution=institution, created_by=acting_user, **cleaned)
    _save_applicant(applicant, force_insert=True)
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip=ip,
    )
    recorded = (
        hooks.record(acting_user=acting_user, applicant=applicant, claims=cleaned_claims, ip=ip)
        if cleaned_claims
        else []
    )
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, claim_ids=recorded, ip=ip
    )
    return applicant


@transaction.atomic
def applicant_update(
    *,
    acting_user: User,
    applicant: Applicant,
    changes: Mapping[str, Any],
    ip: str | None = None,
    purpose: str = "",
) -> Applicant:
    """Change identity fields; the audit event names the fields changed, not their values."""
    institution = _require_institution(acting_user)
    if applicant.institution_id != institution.pk:
        raise PermissionDenied("applicant of another institution")
    cleaned = clean_identity(changes, partial=True)
    if "file_reference" in cleaned:
        _check_file_reference_free(institution, cleaned["file_reference"], exclude_id=applicant.pk)
    changed = [field for field, value in cleaned.items() if getattr(applicant, field) != value]
    if not changed:
        return applicant
    for field in changed:
        setattr(applicant, field, cleaned[field])
    update_fields = [*changed, "updated_at"]
    if {"birth_name", "usage_name", "first_names"} & set(changed):
        applicant.name_key = applicant_search_key(
            {f: getattr(applicant, f) for f in ("birth_name", "usage_name", "first_names")}
        )
        update_fields.append("name_key")
    _save_applicant(applicant, update_fields=update_fields)
    details: dict[str, Any] = {"fields": sorted(changed)}
    # The claims follow the identity (the verification domain's hook): a verdict that no longer
    # applies is reset, and said.
    if reset := claim_hooks().identity_changed(applicant=applicant, fields=changed):
        details["verdicts_reset"] = len(reset)
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip=ip,
        purpose=purpose,
        details=details,
    )
    # A claim whose verdict no longer applies is one to check, like a new one.
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, claim_ids=reset, ip=ip
    )
    return applicant


@transaction.atomic
def audit_export_record(
    *,
    acting_user: User,
    export_format: str,
    filters: Mapping[str, Any],
    applicant_id: int | None = None,
    row_limit: int,
    ip: str | None = None,
) -> None:
    """Record that a supervisor exported the audit trail, with the filters used. When the
    export is of one applicant's file, the event is on that applicant's timeline too."""
    institution = _require_institution(acting_user)
    if not acting_user.is_supervisor:
        raise PermissionDenied("exporting the audit trail is for supervisors")
    audit_record(
        action=AuditAction.EXPORTED,
        actor=acting_user,
        institution=institution,
        object_type="auditevent",
        applicant_id=applicant_id,
        purpose=AUDIT_EXPORT_PURPOSE,
        ip=ip,
        details={"format": export_format, "filters": dict(filters), "row_limit": row_limit},
    )


AUDIT_EXPORT_PURPOSE = "contrôle du journal d'audit"
