"""Asking for verifications: one claim (a clerk's click, the CLI), an applicant's claims (a
clerk's "Vérifier toutes les déclarations") or many (a batch, beat).

A request row is written with its audit event in one transaction; the row is the outbox. A
single request's task is sent as soon as the transaction commits, so a clerk sees the verdict
within seconds; many requests are left to the dispatcher, which sends them at the pace the
sources allow.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Field
from django.utils import timezone

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.infra.bulk import bulk_insert
from admissions.models import Applicant, User
from verifications.enqueue import verification_dispatch_enqueue, verification_run_enqueue
from verifications.enums import OPEN_STATES, RequestState, Trigger
from verifications.models import Batch, Claim, VerificationRequest
from verifications.pipeline.questions import source_for
from verifications.rematch import Variant


logger = logging.getLogger(__name__)


def send_on_commit(request_id: int) -> None:
    def send() -> None:
        try:
            verification_run_enqueue(request_id, retry=False)
        except Exception:
            # The broker is down: the row stays pending, its sent mark cleared, and the
            # dispatcher sends it at its first tick once the broker is back. Nothing is lost.
            logger.warning("broker unavailable, request %s left to the dispatcher", request_id)
            VerificationRequest.objects.filter(
                pk=request_id, state=RequestState.PENDING, enqueued_at__isnull=False
            ).update(enqueued_at=None)

    transaction.on_commit(send)


@transaction.atomic
def verification_request_create(
    *,
    claim: Claim,
    acting_user: User | None,
    trigger: Trigger = Trigger.MANUAL,
    ip: str | None = None,
    purpose: str = "",
    variant: Variant | None = None,
) -> VerificationRequest:
    """Ask for one claim to be verified (or, with ``variant``, for one variant of its question
    to be tried: ``verifications.rematch``); if that check is already under way, that one.

    Twenty clicks on "Vérifier" make one request and one upstream call.
    """
    variant_key = variant.key if variant else ""
    open_requests = VerificationRequest.objects.filter(
        claim=claim, variant_key=variant_key, state__in=OPEN_STATES
    )
    open_request = open_requests.first()
    if open_request is not None:
        return open_request
    try:
        with transaction.atomic():
            request = VerificationRequest.objects.create(
                institution_id=claim.institution_id,
                claim=claim,
                source=source_for(claim.kind),
                trigger=trigger,
                requested_by=acting_user,
                enqueued_at=timezone.now(),
                variant=variant.as_json() if variant else {},
                variant_key=variant_key,
            )
    except IntegrityError:
        # Another transaction opened one in between (one_open_request_per_question).
        return open_requests.get()
    details = {"request": request.pk, "kind": claim.kind, "trigger": trigger}
    if variant is not None:
        # The variant's key and the fields it changes; never their values (personal data).
        details |= {"variant": variant.key, "fields": variant.fields}
    audit_record(
        action=AuditAction.VERIFICATION_REQUESTED,
        actor=acting_user,
        institution=claim.institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        ip=ip,
        purpose=purpose,
        details=details,
        actor_label="" if acting_user else str(trigger),
    )
    send_on_commit(request.pk)
    return request


@transaction.atomic
def applicant_claims_verify(
    *, applicant: Applicant, acting_user: User, ip: str | None = None
) -> int:
    """ "Vérifier toutes les déclarations": ask for each of the applicant's claims to be
    verified, as one click on each card's "Vérifier" would (each request sent on commit, its
    verdict within seconds). Claims already being checked keep their check. Returns how many
    checks were asked for."""
    if acting_user.institution_id is None or applicant.institution_id != acting_user.institution_id:
        raise PermissionDenied("applicant of another institution")
    claims = Claim.objects.filter(applicant=applicant).select_related("institution").order_by("pk")
    busy = set(
        VerificationRequest.objects.filter(
            claim__applicant=applicant, variant_key="", state__in=OPEN_STATES
        ).values_list("claim_id", flat=True)
    )
    asked = 0
    for claim in claims:
        if claim.pk in busy:
            continue
        verification_request_create(
            claim=claim, acting_user=acting_user, trigger=Trigger.MANUAL, ip=ip
        )
        asked += 1
    return asked


@transaction.atomic
def claims_verify_on_record(
    *,
    claim_ids: Sequence[int] = (),
    acting_user_id: int | None = None,
    ip: str | None = None,
) -> int:
    """The checks an institution asks for as soon as claims are typed or edited
    (``admissions.verify_on_record``), with the trigger ``on_record``: sent at once, as a click
    would. Claims checked or being checked since, and those of an institution that has turned
    the setting off since, are left alone. Returns how many checks were asked for. (An
    import's claims are checked in a batch: ``batches.import_verify_on_record``.)"""
    if not claim_ids:
        return 0
    recorded = Claim.objects.filter(
        pk__in=list(claim_ids), verdict="", institution__verify_on_record=True
    )
    claims = list(recorded.select_related("institution").order_by("pk"))
    if not claims:
        return 0
    acting_user = User.objects.filter(pk=acting_user_id).first() if acting_user_id else None
    busy = set(
        VerificationRequest.objects.filter(
            claim__in=claims, variant_key="", state__in=OPEN_STATES
        ).values_list("claim_id", flat=True)
    )
    asked = [claim for claim in claims if claim.pk not in busy]
    for claim in asked:
        verification_request_create(
            claim=claim, acting_user=acting_user, trigger=Trigger.ON_RECORD, ip=ip
        )
    return len(asked)


# The columns a new pending request leaves at the model's defaults (bulk_insert skips them).
_DEFAULTED_FIELDS = (
    "question_digest",
    "claimed_by",
    "attempt_count",
    "failure_count",
    "verdict",
    "reason_code",
    "reason",
    "reason_params",
    "diff",
    "evidence",
    "notes",
    "note_codes",
    "evidence_hash",
    "superseded",
)
# Every column of a new pending request, for bulk_insert.
_REQUEST_FIELDS = (
    "institution_id",
    "claim_id",
    "source",
    "state",
    "trigger",
    "requested_by_id",
    "batch_id",
    "variant",
    "variant_key",
    *_DEFAULTED_FIELDS,
    "created_at",
)
_EMPTY_REQUEST_VALUES = tuple(
    cast("Field[Any, Any]", VerificationRequest._meta.get_field(name)).get_default()
    for name in _DEFAULTED_FIELDS
)


@transaction.atomic
def verification_requests_create(
    *,
    claims: Iterable[Claim],
    acting_user: User | None,
    trigger: Trigger,
    batch: Batch | None = None,
    ip: str | None = None,
    purpose: str = "",
    variants: Mapping[int, Sequence[Variant]] | None = None,
    audit: bool = True,
) -> int:
    """Ask for many claims to be verified (a batch, the scheduler); the dispatcher sends them.
    With ``variants`` (claim id → variants), try those variants of each claim's question
    instead (``verifications.rematch``).

    Checks already under way are left alone. Returns the number of requests created. With
    ``audit=False`` the caller records the request itself: a batch prepared in several parts
    (``batches.batch_prepare``) records one event for the whole.
    """
    claims = list(claims)
    if not claims:
        return 0
    if len({claim.institution_id for claim in claims}) != 1:
        raise ValueError("verification_requests_create takes the claims of one institution")
    questions = [
        (claim, variant)
        for claim in claims
        for variant in (variants.get(claim.pk, ()) if variants is not None else (None,))
    ]
    busy = set(
        VerificationRequest.objects.filter(
            claim__in=[c.pk for c in claims], state__in=OPEN_STATES
        ).values_list("claim_id", "variant_key")
    )
    now = timezone.now()
    user_id = acting_user.pk if acting_user else None
    batch_id = batch.pk if batch else None
    # bulk_insert (PostgreSQL COPY) rather than bulk_create: a cohort of 40,000 claims is
    # written in about a second instead of a dozen (no model instance per row).
    rows = [
        (
            claim.institution_id,
            claim.pk,
            source_for(claim.kind),
            RequestState.PENDING,
            trigger,
            user_id,
            batch_id,
            variant.as_json() if variant else {},
            variant.key if variant else "",
            *_EMPTY_REQUEST_VALUES,
            now,
        )
        for claim, variant in questions
        if (claim.pk, variant.key if variant else "") not in busy
    ]
    bulk_insert(VerificationRequest, _REQUEST_FIELDS, rows)
    kick_dispatcher_on_commit()
    if not audit:
        return len(rows)
    institution = claims[0].institution
    audit_record(
        action=AuditAction.VERIFICATION_REQUESTED,
        actor=acting_user,
        institution=institution,
        obj=batch,
        object_type="batch" if batch else "claims",
        ip=ip,
        purpose=purpose,
        details={
            "count": len(rows),
            "skipped_busy": len(questions) - len(rows),
            "trigger": trigger,
            **({"variants": True} if variants is not None else {}),
        },
        actor_label="" if acting_user else str(trigger),
    )
    return len(rows)


def kick_dispatcher_on_commit() -> None:
    def send() -> None:
        try:
            verification_dispatch_enqueue(retry=False)
        except Exception:
            logger.warning("broker unavailable, the next dispatcher tick will send the requests")

    transaction.on_commit(send)
