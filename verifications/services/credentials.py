"""Writes of the institutions' API tokens (``InstitutionCredential``), encrypted at rest, never
shown back: the settings page, the back-office and the command line set them through here."""

from datetime import datetime

from django.db import transaction

from admissions.audit import audit_record
from admissions.enums import AuditAction, Source
from admissions.infra import crypto
from admissions.infra.tokens import jwt_expiry
from admissions.models import Institution, User
from verifications.models import InstitutionCredential


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
