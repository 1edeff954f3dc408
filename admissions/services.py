"""Writes of the applicant domain. Each service is one transaction that records its audit event.

Services take keyword-only arguments and the acting user explicitly; views only validate input
and call them. Validation errors are raised as ``ValidationError`` keyed by field, in French.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction, Role
from admissions.identity import applicant_search_key, clean_identity
from admissions.infra import crypto
from admissions.infra.tokens import jwt_expiry
from admissions.models import Applicant, Institution, User
from admissions.validators import normalize_siret, normalize_uai
from admissions.verify_on_record import claims_verify_on_commit
from verifications.claims import (
    IDENTITY_KINDS,
    QUESTION_IDENTITY_FIELDS,
    claim_question_digest,
    clean_declared,
)
from verifications.enums import Source
from verifications.models import Claim, InstitutionCredential


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
    """Create an applicant and their claims, validating everything before writing anything."""
    institution = _require_institution(acting_user)
    cleaned = clean_identity(identity)
    cleaned_claims = [(kind, clean_declared(kind, declared)) for kind, declared in claims]
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
    recorded = [
        _claim_insert(
            acting_user=acting_user, applicant=applicant, kind=kind, declared=declared, ip=ip
        )
        for kind, declared in cleaned_claims
    ]
    claims_verify_on_commit(
        institution=institution,
        acting_user=acting_user,
        claim_ids=[claim.pk for claim in recorded],
        ip=ip,
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
    reset: list[int] = []
    if set(QUESTION_IDENTITY_FIELDS) & set(changed) and (reset := _claims_ask_again(applicant)):
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


def _claims_ask_again(applicant: Applicant) -> list[int]:
    """The identity the sources match on changed: the applicant's claims now ask another
    question. Their digests follow, and the verdicts of the kinds asked about the person
    (``IDENTITY_KINDS``) no longer apply: they go back to "not checked" (the requests and their
    evidence stay, labelled as concerning the previous identity). Returns the claims whose
    verdict was reset."""
    reset = []
    for claim in Claim.objects.select_for_update(of=("self",)).filter(applicant=applicant):
        claim.question_digest = claim_question_digest(claim, applicant)
        fields = ["question_digest"]
        if claim.kind in IDENTITY_KINDS and claim.verdict:
            _forget_verdict(claim)
            fields += ["verdict", "verdict_reason", "verified_at", "valid_until", "updated_at"]
            reset.append(claim.pk)
        claim.save(update_fields=fields)
    return reset


def _forget_verdict(claim: Claim) -> None:
    claim.verdict = ""
    claim.verdict_reason = ""
    claim.verified_at = None
    claim.valid_until = None


def _claim_insert(
    *, acting_user: User, applicant: Applicant, kind: str, declared: dict[str, Any], ip: str | None
) -> Claim:
    claim = Claim.objects.create(
        institution_id=applicant.institution_id, applicant=applicant, kind=kind, declared=declared
    )
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=applicant.institution,
        obj=claim,
        applicant_id=applicant.pk,
        ip=ip,
        details={"kind": kind},
    )
    return claim


@transaction.atomic
def claim_create(
    *,
    acting_user: User,
    applicant: Applicant,
    kind: str,
    declared: Mapping[str, Any],
    ip: str | None = None,
) -> Claim:
    institution = _require_institution(acting_user)
    if applicant.institution_id != institution.pk:
        raise PermissionDenied("applicant of another institution")
    claim = _claim_insert(
        acting_user=acting_user,
        applicant=applicant,
        kind=kind,
        declared=clean_declared(kind, declared),
        ip=ip,
    )
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, claim_ids=[claim.pk], ip=ip
    )
    return claim


@transaction.atomic
def claim_update_declared(
    *,
    acting_user: User,
    claim: Claim,
    declared: Mapping[str, Any],
    ip: str | None = None,
    purpose: str = "",
) -> Claim:
    """Change what was declared. The previous verdict no longer applies to it."""
    institution = _require_institution(acting_user)
    if claim.institution_id != institution.pk:
        raise PermissionDenied("claim of another institution")
    cleaned = clean_declared(claim.kind, declared)
    if cleaned == claim.declared:
        return claim
    previous_declared = dict(claim.declared)
    previous_verdict = claim.verdict
    claim.declared = cleaned
    claim.question_digest = claim_question_digest(claim)
    _forget_verdict(claim)
    claim.save(
        update_fields=[
            "declared",
            "question_digest",
            "verdict",
            "verdict_reason",
            "verified_at",
            "valid_until",
            "updated_at",
        ]
    )
    details: dict[str, Any] = {
        "kind": claim.kind,
        "fields": sorted(k for k in cleaned if cleaned[k] != previous_declared.get(k)),
    }
    if previous_verdict:
        details["verdict_reset_from"] = previous_verdict
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        ip=ip,
        purpose=purpose,
        details=details,
    )
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, claim_ids=[claim.pk], ip=ip
    )
    return claim


@transaction.atomic
def credential_set(
    *,
    acting_user: User | None,
    institution: Institution,
    source: Source,
    token: str,
    ip: str | None = None,
    expires_at: datetime | None = None,
) -> InstitutionCredential | None:
    """Store (or replace) an institution's token for a source, encrypted; empty removes it
    (and returns None).

    The expiry is read from the token when it is a JWT (``exp``; API Particulier's are), else
    taken from ``expires_at`` if given. A new token starts its expiry warnings afresh."""
    token = token.strip()
    existing = InstitutionCredential.objects.filter(institution=institution, source=source)
    if not token:
        existing.delete()
        credential = None
    else:
        # The stored token is replaced unread: it may be one the configured keys cannot decrypt
        # (after a wrong key rotation), which is why staff are entering it again.
        credential, _created = InstitutionCredential.objects.defer("token").update_or_create(
            institution=institution,
            source=source,
            defaults={
                "token": token,
                "fingerprint": crypto.fingerprint(token),
                "expires_at": jwt_expiry(token) or expires_at,
                "expiry_warned_days": None,
            },
        )
    audit_record(
        action=AuditAction.CREDENTIAL_CHANGED,
        actor=acting_user,
        institution=institution,
        object_type="institutioncredential",
        object_id=source,
        ip=ip,
        details={
            "source": source,
            "fingerprint": credential.fingerprint if credential else None,
            "expires_at": (
                credential.expires_at.isoformat() if credential and credential.expires_at else None
            ),
        },
    )
    return credential


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
