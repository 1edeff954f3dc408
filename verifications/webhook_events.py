"""What the verification domain tells webhook receivers (docs/WEBHOOKS.md §Events).

The services call these functions in the transaction that makes the change (the transactional
outbox is ``webhooks.services.events``): a direct, one-way call, verifications → webhooks, no
signal. Each builds its event's ``data`` from ids, codes, verdicts and dates only: never a name,
a birth date, a file reference or a token.
"""

from datetime import datetime

from django.db.models import Count

from verifications.enums import BatchKind
from verifications.models import Batch, Claim, InstitutionCredential, VerificationRequest
from webhooks.enums import EventType
from webhooks.services.events import webhook_event_emit


def _may_have_subscribers(request: VerificationRequest) -> bool:
    """False when the check's load found the institution without any webhook endpoint
    (``services/run.py``'s ``webhook_endpoints``): the finish then costs no statement here.
    A request loaded otherwise is asked (``webhook_event_emit`` looks)."""
    return getattr(request, "webhook_endpoints", True)


def _stamp(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


def verification_completed(
    request: VerificationRequest, *, verdict: str, reason_code: str, applied: bool, now: datetime
) -> None:
    """A check ended with a verdict (``applied``: the claim took it; False when the claim was
    edited during the check, or for an identity variant the source did not find either)."""
    if not _may_have_subscribers(request):
        return
    webhook_event_emit(
        institution_id=request.institution_id,
        type=EventType.VERIFICATION_COMPLETED,
        data={
            "request_id": request.pk,
            "claim_id": request.claim_id,
            "applicant_id": request.claim.applicant_id,
            "kind": request.claim.kind,
            "source": request.source,
            "trigger": request.trigger,
            "batch_id": request.batch_id,
            "verdict": verdict,
            "reason_code": reason_code,
            "applied": applied,
            "finished_at": _stamp(now),
        },
        now=now,
    )


def verdict_changed(
    *,
    claim: Claim,
    request: VerificationRequest,
    previous: str,
    verdict: str,
    now: datetime,
) -> None:
    """The claim's verdict took a new value: from a check (any trigger, the night re-checks
    included) or a person's decision (a manual verification, an override). Nothing when it is
    the same verdict again."""
    if previous == verdict or not _may_have_subscribers(request):
        return
    webhook_event_emit(
        institution_id=claim.institution_id,
        type=EventType.VERDICT_CHANGED,
        data={
            "claim_id": claim.pk,
            "applicant_id": claim.applicant_id,
            "kind": claim.kind,
            "previous_verdict": previous or None,
            "verdict": verdict,
            "request_id": request.pk,
            "trigger": request.trigger,
            "changed_at": _stamp(now),
        },
        now=now,
    )


def batch_finished(batch: Batch, *, now: datetime) -> None:
    """A verification batch has no open request left."""
    if batch.kind != BatchKind.VERIFICATION:
        return
    counts = dict(
        VerificationRequest.objects.filter(batch_id=batch.pk)
        .order_by()
        .values("verdict")
        .annotate(n=Count("id"))
        .values_list("verdict", "n")
    )
    webhook_event_emit(
        institution_id=batch.institution_id,
        type=EventType.BATCH_FINISHED,
        data={
            "batch_id": batch.pk,
            "import_batch_id": batch.import_batch_id,
            "total": sum(counts.values()),
            "verdicts": {verdict: n for verdict, n in sorted(counts.items()) if verdict},
            "finished_at": _stamp(now),
        },
        now=now,
    )


def credential_expiring(
    credential: InstitutionCredential, *, threshold_days: int, now: datetime
) -> None:
    """An institution's token for a source reached a warning threshold (90, 60, 30, 15 days)."""
    expires_at = credential.expires_at
    if expires_at is None:
        return
    webhook_event_emit(
        institution_id=credential.institution_id,
        type=EventType.CREDENTIAL_EXPIRING,
        data={
            "source": credential.source,
            "expires_at": _stamp(expires_at),
            "threshold_days": threshold_days,
            "days_left": max(0, (expires_at - now).days),
            "expired": expires_at <= now,
        },
        now=now,
    )
