"""Verdicts a person gives: a manual verification from a document when the source is down or
does not know the applicant (degraded mode), and a supervisor's override of a verdict.

Both are recorded like any verification (a done request, with its reason) so the claim's
history shows them next to the sources' answers; both need a written justification.
"""

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.models import User
from verifications import webhook_events
from verifications.enums import OPEN_STATES, RequestState, Trigger, Verdict
from verifications.models import Claim, VerificationRequest
from verifications.pipeline.questions import source_for


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# When a clerk may verify by hand: the source could not or would not say.
MANUAL_ALLOWED_AFTER = frozenset(
    {"", Verdict.UNAVAILABLE, Verdict.NOT_FOUND, Verdict.REJECTED, Verdict.MISMATCH}
)
OVERRIDABLE = frozenset(v for v in Verdict if v != Verdict.MANUAL)
MIN_JUSTIFICATION = 10


def written_reason(text: str, *, field: str, message: "StrOrPromise", limit: int) -> str:
    """A person's written reason for an action, stripped: at least ``MIN_JUSTIFICATION``
    characters (``message`` says so, with ``%(n)s``, keyed by ``field``), cut at ``limit``."""
    text = (text or "").strip()
    if len(text) < MIN_JUSTIFICATION:
        raise ValidationError({field: message % {"n": MIN_JUSTIFICATION}})
    return text[:limit]


def _check_justification(text: str) -> str:
    return written_reason(
        text,
        field="justification",
        message=_(
            "Expliquez en quelques mots ce qui fonde cette décision (%(n)s caractères au moins)."
        ),
        limit=2000,
    )


def _record(
    *,
    claim: Claim,
    acting_user: User,
    verdict: str,
    reason: str,
    trigger: Trigger,
    params: dict | None = None,
) -> VerificationRequest:
    if VerificationRequest.objects.filter(claim=claim, state__in=OPEN_STATES).exists():
        raise ValidationError(
            _("Une vérification de cette déclaration est en cours : attendez son résultat.")
        )
    now = timezone.now()
    previous = claim.verdict
    request = VerificationRequest.objects.create(
        institution_id=claim.institution_id,
        claim=claim,
        source=source_for(claim.kind),
        trigger=trigger,
        requested_by=acting_user,
        state=RequestState.DONE,
        verdict=verdict,
        reason_code=f"person.{trigger}",
        reason=reason,
        reason_params=params or {},
        # A decision is about the claim as it stands: an edit makes it history too.
        question_digest=claim.question_digest,
        finished_at=now,
    )
    claim.verdict = verdict
    claim.verdict_reason = reason
    claim.verified_at = now
    claim.valid_until = None
    claim.save(
        update_fields=["verdict", "verdict_reason", "verified_at", "valid_until", "updated_at"]
    )
    webhook_events.verdict_changed(
        claim=claim, request=request, previous=previous, verdict=verdict, now=now
    )
    return request


@transaction.atomic
def claim_verify_manually(
    *,
    claim: Claim,
    acting_user: User,
    document: str,
    justification: str,
    ip: str | None = None,
) -> VerificationRequest:
    """Degraded mode: a person checked the claim from a document (named in ``document``)."""
    if claim.institution_id != acting_user.institution_id:
        raise PermissionDenied
    if claim.verdict not in MANUAL_ALLOWED_AFTER and not acting_user.is_supervisor:
        raise PermissionDenied("only a supervisor may replace a source's definite answer")
    document = (document or "").strip()[:200]
    if not document:
        raise ValidationError({"document": _("Indiquez la pièce consultée.")})
    reason = _check_justification(justification)
    previous = claim.verdict
    request = _record(
        claim=claim,
        acting_user=acting_user,
        verdict=Verdict.MANUAL,
        reason=reason,
        trigger=Trigger.MANUAL_CHECK,
        params={"document": document},
    )
    audit_record(
        action=AuditAction.MANUALLY_VERIFIED,
        actor=acting_user,
        institution=claim.institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        ip=ip,
        # Why: the justification, in the trail itself (hashed with the rest).
        purpose=reason,
        details={"request": request.pk, "kind": claim.kind, "from": previous, "to": Verdict.MANUAL},
    )
    return request


@transaction.atomic
def claim_override_verdict(
    *, claim: Claim, acting_user: User, verdict: str, justification: str, ip: str | None = None
) -> VerificationRequest:
    """A supervisor sets the verdict, with the reason written down."""
    if claim.institution_id != acting_user.institution_id or not acting_user.is_supervisor:
        raise PermissionDenied
    if verdict not in OVERRIDABLE:
        raise ValidationError({"verdict": _("Choisissez un verdict.")})
    reason = _check_justification(justification)
    previous = claim.verdict
    request = _record(
        claim=claim,
        acting_user=acting_user,
        verdict=verdict,
        reason=reason,
        trigger=Trigger.OVERRIDE,
        # What the source's own answer was, kept with the decision (the card shows both).
        params={"from": previous},
    )
    audit_record(
        action=AuditAction.OVERRIDDEN,
        actor=acting_user,
        institution=claim.institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        ip=ip,
        purpose=reason,
        details={"request": request.pk, "kind": claim.kind, "from": previous, "to": verdict},
    )
    return request
