"""``/api/v1/``'s verification resources: asking for checks (one claim, an applicant's claims,
a batch), reading them and their results, the raw evidence under its own scope, and the
institution's audit trail.

The handlers call the pages' own services (``verifications.services``): a check asked here is
a ``VerificationRequest`` like a click's, sent on commit (or, in a batch, by the dispatcher) and
held to the sources' shared limits like any other; each write is audited with the key's
service account as its actor.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from admissions.audit import audit_view_record
from admissions.enums import AuditAction
from admissions.infra.client_address import client_ip
from api import selectors
from api.operations import API_READ_PURPOSE, ERRORS, EVIDENCE, READ, VERIFY, acting_user
from api.problems import ApiProblem, invalid
from api.results import verification_out
from api.schemas import (
    ApplicantVerifications,
    AuditEventOut,
    AuditEventPage,
    BatchCreate,
    BatchOut,
    BatchResults,
    EvidenceOut,
    VerificationOut,
)
from api.services import evidence_read_record
from verifications.models import Batch, VerificationRequest
from verifications.selectors import batch_progress
from verifications.services import batches as batch_services
from verifications.services import requests as request_services


checks = Router()


def _viewed(request: HttpRequest, applicant_id: int, obj: Any) -> None:
    user = acting_user(request)
    audit_view_record(
        actor=user,
        institution=user.institution,
        obj=obj,
        applicant_id=applicant_id,
        purpose=API_READ_PURPOSE,
        ip=client_ip(request),
    )


def _cursor(raw: str) -> int | None:
    if not raw:
        return None
    found = selectors.id_cursor_decode(raw)
    if found is None:
        raise ApiProblem(422, _("Ce curseur n'est pas valide : reprenez à la première page."))
    return found


# --- Asking for checks --------------------------------------------------------------------------


@checks.post(
    "/applicants/{applicant_id}/claims/{claim_id}/verifications",
    response={202: VerificationOut, **ERRORS},
    auth=VERIFY,
    url_name="claim_verifications",
    tags=["verifications"],
)
def claim_verify(
    request: HttpRequest, applicant_id: str, claim_id: str, response: HttpResponse
) -> Any:
    """Ask for this claim to be checked. A check already under way is answered instead of a
    new one."""
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    claim = selectors.claim_get(user=user, applicant=applicant, claim_id=claim_id)
    asked = request_services.verification_request_create(
        claim=claim, acting_user=user, ip=client_ip(request)
    )
    response["Location"] = reverse("api-v1:verification", args=[asked.pk])
    return Status(
        202, verification_out(selectors.verification_get(user=user, verification_id=str(asked.pk)))
    )


@checks.get(
    "/applicants/{applicant_id}/claims/{claim_id}/verifications",
    response={200: list[VerificationOut], **ERRORS},
    auth=READ,
    url_name="claim_verifications",
    tags=["verifications"],
)
def claim_verification_list(request: HttpRequest, applicant_id: str, claim_id: str) -> Any:
    """The claim's checks, newest first (the last 100)."""
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    claim = selectors.claim_get(user=user, applicant=applicant, claim_id=claim_id)
    _viewed(request, applicant.pk, applicant)
    return [verification_out(r) for r in selectors.claim_verifications(user=user, claim=claim)]


@checks.post(
    "/applicants/{applicant_id}/verifications",
    response={202: ApplicantVerifications, **ERRORS},
    auth=VERIFY,
    url_name="applicant_verifications",
    tags=["verifications"],
)
def applicant_verify(request: HttpRequest, applicant_id: str) -> Any:
    """Ask for each of the applicant's claims to be checked (« Vérifier toutes les
    déclarations »); claims being checked keep their check."""
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    asked = request_services.applicant_claims_verify(
        applicant=applicant, acting_user=user, ip=client_ip(request)
    )
    under_way = selectors.applicant_open_verifications(user=user, applicant=applicant)
    return Status(
        202, {"requested": asked, "verifications": [verification_out(r) for r in under_way]}
    )


# --- Reading checks -------------------------------------------------------------------------


@checks.get(
    "/verifications/{verification_id}",
    response={200: VerificationOut, **ERRORS},
    auth=READ,
    url_name="verification",
    tags=["verifications"],
)
def verification_read(request: HttpRequest, verification_id: str) -> Any:
    """A check's state and, once done, its result (never the raw evidence: its digest)."""
    found = selectors.verification_get(user=acting_user(request), verification_id=verification_id)
    _viewed(request, found.claim.applicant_id, found.claim)
    return verification_out(found)


@checks.get(
    "/verifications/{verification_id}/evidence",
    response={200: EvidenceOut, **ERRORS},
    auth=EVIDENCE,
    url_name="verification_evidence",
    tags=["verifications"],
)
def verification_evidence(request: HttpRequest, verification_id: str) -> Any:
    """The check's raw evidence (the minimum the verdict rests on), for a key holding the
    ``evidence`` scope. Every read is recorded in the audit trail."""
    user = acting_user(request)
    found: VerificationRequest = selectors.verification_get(
        user=user, verification_id=verification_id
    )
    evidence_read_record(acting_user=user, request=found, ip=client_ip(request))
    purged = found.evidence_purged_at is not None
    return {
        "verification_id": found.pk,
        "evidence": None if purged else found.evidence,
        "evidence_digest": found.evidence_hash,
        "evidence_purged_at": found.evidence_purged_at,
    }


# --- Batches --------------------------------------------------------------------------------


def _batch_out(request: HttpRequest, batch: Batch) -> BatchOut:
    progress = batch_progress(user=acting_user(request), batch=batch)
    return BatchOut(
        id=batch.pk,
        label=batch.label,
        status=batch.status,  # type: ignore[arg-type]  # a BatchStatus value
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        total=progress.total,
        done=progress.done,
        pending=progress.pending,
        running=progress.running,
        percent=progress.percent,
        by_verdict=progress.by_verdict,
    )


@checks.post(
    "/batches",
    response={202: BatchOut, **ERRORS},
    auth=VERIFY,
    url_name="batches",
    tags=["batches"],
)
def batch_create(request: HttpRequest, payload: BatchCreate, response: HttpResponse) -> Any:
    """Check many claims in one batch: those named, and all those of the applicants named.
    The checks are sent at the pace the sources allow; follow the batch's progress."""
    user = acting_user(request)
    chosen = selectors.claims_chosen(
        user=user, claim_ids=payload.claim_ids, applicant_ids=payload.applicant_ids
    )
    unknown_claims, unknown_applicants = (
        set(chosen.unknown_claims),
        set(chosen.unknown_applicants),
    )
    errors: list[dict[str, str]] = [
        {"path": f"claim_ids.{n}", "message": gettext("Déclaration inconnue.")}
        for n, pk in enumerate(payload.claim_ids)
        if pk in unknown_claims
    ] + [
        {"path": f"applicant_ids.{n}", "message": gettext("Candidat inconnu.")}
        for n, pk in enumerate(payload.applicant_ids)
        if pk in unknown_applicants
    ]
    if errors:
        raise ApiProblem(422, _("La requête contient des erreurs."), errors=errors)
    try:
        batch = batch_services.batch_verification_launch(
            acting_user=user, claims=chosen.claims, label=payload.label, ip=client_ip(request)
        )
    except ValidationError as exc:
        raise invalid(exc, prefix="claim_ids") from exc
    response["Location"] = reverse("api-v1:batch", args=[batch.pk])
    return Status(202, _batch_out(request, batch))


@checks.get(
    "/batches/{batch_id}",
    response={200: BatchOut, **ERRORS},
    auth=READ,
    url_name="batch",
    tags=["batches"],
)
def batch_read(request: HttpRequest, batch_id: str) -> Any:
    """A verification batch's progress: its checks per state and per verdict."""
    batch = selectors.verification_batch_get(user=acting_user(request), batch_id=batch_id)
    return _batch_out(request, batch)


class PageQuery(Schema):
    cursor: str = Field("", max_length=200)
    limit: int = Field(50, ge=1, le=100)


@checks.get(
    "/batches/{batch_id}/results",
    response={200: BatchResults, **ERRORS},
    auth=READ,
    url_name="batch_results",
    tags=["batches"],
)
def batch_results(request: HttpRequest, batch_id: str, page: Query[PageQuery]) -> Any:
    """The batch's current check of each claim, with its result once done. Each page read is
    recorded in the audit trail, as a download of the batch's results is."""
    user = acting_user(request)
    batch = selectors.verification_batch_get(user=user, batch_id=batch_id)
    found = selectors.batch_results_page(
        user=user, batch=batch, cursor=_cursor(page.cursor), limit=page.limit
    )
    batch_services.batch_results_exported(
        batch=batch,
        acting_user=user,
        file_format="api",
        rows=len(found.items),
        ip=client_ip(request),
    )
    return {"items": [verification_out(r) for r in found.items], "next_cursor": found.next_cursor}


# --- The audit trail ------------------------------------------------------------------------


class AuditQuery(Schema):
    action: AuditAction | None = None
    applicant_id: int | None = Field(None, ge=1, le=2**63 - 1)
    since: datetime | None = None
    cursor: str = Field("", max_length=200)
    limit: int = Field(50, ge=1, le=100)


@checks.get(
    "/audit-events",
    response={200: AuditEventPage, **ERRORS},
    auth=READ,
    url_name="audit_events",
    tags=["audit"],
)
def audit_events(request: HttpRequest, query: Query[AuditQuery]) -> Any:
    """The institution's audit events, oldest first, in the order of its hash chain: keep
    ``next_cursor`` and read again later for the events written since."""
    found = selectors.audit_events_page(
        user=acting_user(request),
        cursor=_cursor(query.cursor),
        action=query.action or "",
        applicant_id=query.applicant_id,
        since=query.since,
        limit=query.limit,
    )
    return {
        "items": [
            AuditEventOut(
                seq=e.seq,
                created_at=e.created_at,
                actor=e.actor_label,
                action=e.action,
                object_type=e.object_type,
                object_id=e.object_id,
                applicant_id=e.applicant_id,
                purpose=e.purpose,
                ip=e.ip,
                details=e.details,
                hash=e.hash,
                prev_hash=e.prev_hash,
            )
            for e in found.items
        ],
        "next_cursor": found.next_cursor,
    }
