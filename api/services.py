"""Writes of the integration door: API keys (creation, revocation, last use).

Each service is one transaction that records its audit event, as in ``admissions.services``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction, Role
from admissions.models import API_KEY_USERNAME_PREFIX, User
from api.enums import Scope
from api.keys import key_generate
from api.models import ApiKey, IdempotentAnswer
from verifications.models import VerificationRequest


# A key's service account's last use is written at most this often (a busy key would otherwise
# write its row at every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    # The whole key, ``vgk_<prefix>_<secret>``: shown once, then only its digest exists.
    secret: str


def _require_admin(user: User) -> int:
    """The admin's institution id; PermissionDenied for anyone else."""
    if user.institution_id is None or not user.is_institution_admin or user.is_api_key:
        raise PermissionDenied("API keys are managed by institution admins")
    return user.institution_id


@transaction.atomic
def api_key_create(
    *,
    acting_user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime,
    ip: str | None = None,
) -> CreatedKey:
    """Create a key of the admin's institution and its service account."""
    institution_id = _require_admin(acting_user)
    name = name.strip()
    wanted = sorted(set(scopes))
    errors: dict[str, list[ValidationError]] = {}
    if not name:
        errors["name"] = [ValidationError(_("Ce champ est obligatoire."), code="required")]
    if not wanted or not set(wanted) <= set(Scope.values):
        errors["scopes"] = [
            ValidationError(_("Choisissez au moins un droit."), code="scopes_required")
        ]
    if expires_at <= timezone.now():
        errors["expires_at"] = [
            ValidationError(_("La date d'expiration doit être dans le futur."), code="past")
        ]
    if errors:
        raise ValidationError(errors)
    new = key_generate()
    user = User(
        username=f"{API_KEY_USERNAME_PREFIX}{new.prefix}",
        first_name=name[:150],
        institution_id=acting_user.institution_id,
        role=Role.CLERK,
    )
    # No password: the account cannot sign in to the pages (ModelBackend refuses an unusable
    # password); it acts only through its key. Not full_clean(): ":" is refused in people's
    # usernames precisely so that this namespace is the keys' own.
    user.set_unusable_password()
    user.save()
    api_key = ApiKey.objects.create(
        institution_id=institution_id,
        name=name,
        scopes=wanted,
        prefix=new.prefix,
        secret_hash=new.digest,
        user=user,
        expires_at=expires_at,
        created_by=acting_user,
    )
    audit_record(
        action=AuditAction.CREATED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=api_key,
        ip=ip,
        details={"prefix": new.prefix, "scopes": wanted, "expires_at": expires_at.isoformat()},
    )
    return CreatedKey(api_key=api_key, secret=new.full)


@transaction.atomic
def api_key_revoke(*, acting_user: User, api_key: ApiKey, ip: str | None = None) -> ApiKey:
    """Revoke a key at once: its next request answers 401. Revoking twice changes nothing."""
    _require_admin(acting_user)
    if api_key.institution_id != acting_user.institution_id:
        raise PermissionDenied("key of another institution")
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.revoked_by = acting_user
    api_key.save(update_fields=["revoked_at", "revoked_by"])
    User.objects.filter(pk=api_key.user_id).update(is_active=False)
    audit_record(
        action=AuditAction.EDITED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=api_key,
        ip=ip,
        details={"prefix": api_key.prefix, "change": "revoked"},
    )
    return api_key


def api_key_touch(*, api_key: ApiKey, ip: str | None, now: datetime) -> None:
    """Record the key's last use, at most once a minute (one conditional update, no lock)."""
    last = api_key.last_used_at
    if last is not None and now - last < LAST_USED_RESOLUTION and api_key.last_used_from == ip:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True)
        | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        | ~Q(last_used_from=ip)
    ).update(last_used_at=now, last_used_from=ip)


# --- Idempotent writes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Idempotency:
    answer: IdempotentAnswer
    # True: this request runs the write; False: ``answer`` is an earlier request's.
    first: bool


def idempotency_begin(*, api_key: ApiKey, key: str, digest: str, now: datetime) -> Idempotency:
    """Claim ``key`` for this request, or find the request that claimed it. The row is
    committed before the write runs: a second identical request at once waits on the unique
    constraint, then finds it (in progress, or answered). A claim older than the replay
    window is forgotten and taken afresh."""
    horizon = now - timedelta(hours=settings.VIGIE_API_IDEMPOTENCY_HOURS)
    with transaction.atomic():
        IdempotentAnswer.objects.filter(api_key=api_key, key=key, created_at__lt=horizon).delete()
    try:
        with transaction.atomic():
            answer = IdempotentAnswer.objects.create(
                api_key=api_key, key=key, digest=digest, created_at=now
            )
    except IntegrityError:
        return Idempotency(IdempotentAnswer.objects.get(api_key=api_key, key=key), first=False)
    return Idempotency(answer, first=True)


def idempotency_finish(
    *, answer: IdempotentAnswer, status: int, content_type: str, body: bytes, headers: dict
) -> None:
    IdempotentAnswer.objects.filter(pk=answer.pk).update(
        status=status, content_type=content_type, body=body, headers=headers
    )


def idempotency_abandon(*, answer: IdempotentAnswer) -> None:
    """The write did not end with an answer worth replaying (a crash, a 429): the key is free
    again, for a retry to run."""
    IdempotentAnswer.objects.filter(pk=answer.pk, status__isnull=True).delete()


# --- Evidence read through the API ------------------------------------------------------------

# The purpose recorded when a key reads a check's raw evidence (docs/SECURITY.md §The audit
# trail); stored as written, as every purpose.
EVIDENCE_READ_PURPOSE = "lecture des preuves brutes par le système d'information (API)"


@transaction.atomic
def evidence_read_record(
    *, acting_user: User, request: VerificationRequest, ip: str | None = None
) -> None:
    """Record that a key read a check's raw evidence: every read, not once per window as the
    pages' views are, since the evidence leaves Vigie each time."""
    if acting_user.institution_id is None or request.institution_id != acting_user.institution_id:
        raise PermissionDenied("check of another institution")
    audit_record(
        action=AuditAction.VIEWED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=request,
        object_type="verificationrequest",
        applicant_id=request.claim.applicant_id,
        purpose=EVIDENCE_READ_PURPOSE,
        ip=ip,
        details={"evidence": True, "request": request.pk},
    )


def idempotent_answers_purge(*, now: datetime) -> int:
    """Delete the kept answers older than the replay window (a beat tick): past it a replay
    runs afresh anyway (``idempotency_begin``). Returns how many were deleted."""
    horizon = now - timedelta(hours=settings.VIGIE_API_IDEMPOTENCY_HOURS)
    deleted, _by_model = IdempotentAnswer.objects.filter(created_at__lt=horizon).delete()
    return deleted
