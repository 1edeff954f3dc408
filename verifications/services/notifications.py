"""Telling people what changed: a claim whose definitive verdict changed after a check, and an
API token close to its expiry.

Both are shown on the dashboard and sent by e-mail once. E-mails carry no personal data: the
file reference, the kind of claim, the verdicts and a link; the rest is behind the login.
"""

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from admissions.audit import audit_record
from admissions.enums import AuditAction, Role
from admissions.models import User
from verifications import freshness, webhook_events
from verifications.enums import RequestState, Verdict
from verifications.models import InstitutionCredential, VerdictChange, VerificationRequest


logger = logging.getLogger(__name__)

# Verdicts that say something about the claim (not about the source or the request).
DEFINITIVE = frozenset(
    {Verdict.CONFIRMED, Verdict.CONTRADICTED, Verdict.MISMATCH, Verdict.NOT_FOUND}
)


def _link(path: str) -> str:
    return f"{settings.VIGIE_SITE_URL}{path}"


def _recipient(request: VerificationRequest) -> User | None:
    """The claim's clerk: who asked for this check, else who asked for the last one, else who
    recorded the applicant."""
    if request.requested_by_id is not None:
        return request.requested_by
    earlier = (
        VerificationRequest.objects.filter(claim_id=request.claim_id, requested_by__isnull=False)
        .select_related("requested_by")
        .order_by("-created_at", "-id")
        .first()
    )
    if earlier is not None:
        return earlier.requested_by
    return request.claim.applicant.created_by


def previous_definitive(request: VerificationRequest) -> QuerySet[VerificationRequest]:
    """The claim's last definitive check before ``request`` (at most one row)."""
    return (
        VerificationRequest.objects.filter(
            claim_id=request.claim_id, state=RequestState.DONE, verdict__in=DEFINITIVE
        )
        .exclude(pk=request.pk)
        .order_by("-finished_at", "-id")[:1]
    )


def verdict_change_record(
    *,
    request: VerificationRequest,
    previous_claim_verdict: str,
    verdict: str,
    previous: tuple[int, str] | Literal[False] | None = False,
) -> VerdictChange | None:
    """Called by the pipeline when a request ends, in its transaction: if the new verdict is
    definitive and differs from the claim's last definitive one, record the change and e-mail
    the clerk once committed.

    A claim whose verdict was blank before this check (never checked, or its declaration
    edited since) has no previous verdict to compare with. ``previous`` is the id and verdict
    of ``previous_definitive(request)`` when the caller has read it in the same transaction
    (None: there is none); by default it is read here."""
    if verdict not in DEFINITIVE or not previous_claim_verdict:
        return None
    if previous is False:
        row = previous_definitive(request).values_list("pk", "verdict").first()
        previous = (row[0], row[1]) if row else None
    if previous is None or previous[1] == verdict:
        return None
    recipient = _recipient(request)
    if recipient is not None and (
        recipient.institution_id != request.institution_id or not recipient.is_active
    ):
        recipient = None
    change = VerdictChange.objects.create(
        institution_id=request.institution_id,
        claim_id=request.claim_id,
        request=request,
        previous_request_id=previous[0],
        previous_verdict=previous[1],
        verdict=verdict,
        recipient=recipient,
    )
    if recipient is not None and recipient.email:
        transaction.on_commit(lambda: _email_verdict_change(change.pk))
    return change


def _email_verdict_change(change_id: int) -> None:
    change = VerdictChange.objects.select_related("claim__applicant", "recipient").get(pk=change_id)
    recipient = change.recipient
    if recipient is None:  # a change nobody is told of (none is scheduled then)
        return
    claim = change.claim
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "file_reference": claim.applicant.file_reference,
            "kind": claim.get_kind_display(),
            "previous": Verdict(change.previous_verdict).label,
            "verdict": Verdict(change.verdict).label,
            "link": _link(reverse("applicant_detail", args=[claim.applicant_id])),
        }
        subject = render_to_string("verifications/email/verdict_change_subject.txt", context)
        body = render_to_string("verifications/email/verdict_change.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [recipient.email])
    except Exception:
        logger.warning("verdict change %s: e-mail not sent", change.pk, exc_info=True)
        return
    VerdictChange.objects.filter(pk=change.pk).update(emailed_at=timezone.now())


@transaction.atomic
def verdict_change_dismiss(
    *, change: VerdictChange, acting_user: User, ip: str | None = None
) -> None:
    """The user has seen it: it leaves the dashboard (the requests keep both verdicts)."""
    if change.institution_id != acting_user.institution_id:
        raise PermissionDenied
    seen = VerdictChange.objects.filter(pk=change.pk, dismissed_at__isnull=True).update(
        dismissed_at=timezone.now()
    )
    if seen:
        audit_record(
            action=AuditAction.VIEWED,
            actor=acting_user,
            institution=acting_user.institution,
            obj=change,
            applicant_id=change.claim.applicant_id,
            ip=ip,
            purpose="changement de verdict vu",
            details={
                "claim": change.claim_id,
                "from": change.previous_verdict,
                "to": change.verdict,
            },
        )


# --- Token expiry -----------------------------------------------------------------------------


def credential_expiry_check(*, now: datetime | None = None) -> int:
    """Daily: e-mail each institution's admins once per threshold reached (90, 60, 30 and 15
    days before a token's expiry; an expired token counts as the last one). Returns the number
    of credentials warned about."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(freshness.EXPIRY_WARNING_DAYS))
    warned = 0
    credentials = InstitutionCredential.objects.filter(
        expires_at__isnull=False, expires_at__lte=horizon
    ).select_related("institution")
    for credential in credentials:
        expires_at = credential.expires_at
        if expires_at is None:  # excluded by the query; says so to the type checker
            continue
        threshold = freshness.expiry_threshold(expires_at, now)
        if threshold is None:
            continue
        threshold = max(threshold, min(freshness.EXPIRY_WARNING_DAYS))
        if credential.expiry_warned_days is not None and credential.expiry_warned_days <= threshold:
            continue  # this threshold (or a closer one) was already sent
        with transaction.atomic():
            updated = InstitutionCredential.objects.filter(pk=credential.pk).filter(
                Q(expiry_warned_days__isnull=True) | Q(expiry_warned_days__gt=threshold)
            )
            if not updated.update(expiry_warned_days=threshold):
                continue
            audit_record(
                action=AuditAction.CREDENTIAL_EXPIRY_WARNED,
                actor=None,
                actor_label="vigie",
                institution=credential.institution,
                object_type="institutioncredential",
                object_id=credential.source,
                details={
                    "source": credential.source,
                    "threshold_days": threshold,
                    "expires_at": expires_at.isoformat(),
                },
            )
            webhook_events.credential_expiring(credential, threshold_days=threshold, now=now)
            transaction.on_commit(partial(_email_expiry, credential.pk, threshold, now))
        warned += 1
    return warned


def _email_expiry(credential_id: int, threshold: int, now: datetime) -> None:
    credential = InstitutionCredential.objects.select_related("institution").get(pk=credential_id)
    admins = User.objects.filter(
        institution_id=credential.institution_id, role=Role.INSTITUTION_ADMIN, is_active=True
    ).exclude(email="")
    recipients = list(admins.values_list("email", flat=True))
    expires_at = credential.expires_at
    if not recipients or expires_at is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "source": credential.get_source_display(),
            "institution": credential.institution.name,
            "expires_at": expires_at,
            "expired": expires_at <= now,
            "days_left": max(0, (expires_at - now).days),
            "link": _link(reverse("home")),
        }
        subject = render_to_string("verifications/email/credential_expiry_subject.txt", context)
        body = render_to_string("verifications/email/credential_expiry.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, recipients)
    except Exception:
        logger.warning("token expiry warning %s: e-mail not sent", credential_id, exc_info=True)
