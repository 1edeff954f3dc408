"""Retention and the GDPR: the purge tick, an applicant's erasure, and their export.

**Purge** (daily, ``retention_purge_tick``), per institution and with its settings:

* raw evidence of requests finished more than ``evidence_retention_months`` ago: the request's
  ``evidence`` and its attempts' redacted ``payload`` are blanked; the verdict, its reason, the
  diff and ``evidence_hash`` (computed when the evidence was recorded) stay;
* audit events older than ``audit_retention_months`` (36 by default, API Particulier's
  traceability period) are deleted, and an anchor event keeps the chain verifiable
  (``admissions.audit.audit_events_purge``).

**Erasure** (``applicant_erase``, art. 17) goes through the same code: ``_purge_evidence`` on
every request of the applicant, then, still inside ``purge_allowed()``, the rows that hold their
data are deleted (attempts, requests, notifications, claims, the applicant). Audit events stay:
they carry ids, never personal data, and they are the 36-month trace of who queried what; an
``erased`` event records the erasure with counts and the justification's length, nothing else.

**Export** (``applicant_export``, art. 15) gathers everything Vigie holds about one applicant
and records an ``exported`` audit event.
"""

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_events_purge, audit_record
from admissions.enums import AuditAction
from admissions.identity import IDENTITY_FIELDS
from admissions.infra.append_only import purge_allowed
from admissions.models import Applicant, AuditEvent, Institution, User
from verifications import analytics, freshness
from verifications.enums import RequestState, claim_kind_order
from verifications.models import Claim, VerdictChange, VerificationAttempt, VerificationRequest
from verifications.services.analytics_rollup import analytics_rollup_forget
from verifications.services.certificates import certificates_erase
from verifications.services.policies import institution_policy_get


logger = logging.getLogger(__name__)
MIN_JUSTIFICATION = 10


def _purge_evidence(requests: QuerySet[VerificationRequest], now: datetime) -> tuple[int, int]:
    """Blank the evidence of these requests and their attempts' payloads. Must run inside
    ``purge_allowed()``. Returns (requests, attempts) purged."""
    ids = list(requests.values_list("id", flat=True))
    if not ids:
        return 0, 0
    attempts = (
        VerificationAttempt.objects.filter(request_id__in=ids)
        .exclude(payload={})
        .purge_fields("payload")
    )
    purged = VerificationRequest.objects.filter(pk__in=ids).update(
        evidence={}, evidence_purged_at=now
    )
    return purged, attempts


def retention_purge_institution(*, institution: Institution, now: datetime) -> dict[str, int]:
    policy = institution_policy_get(institution)
    evidence_before = freshness.months_before(
        now.astimezone(ZoneInfo(policy.timezone)), policy.evidence_retention_months
    )
    audit_before = freshness.months_before(
        now.astimezone(ZoneInfo(policy.timezone)), policy.audit_retention_months
    )
    with transaction.atomic():
        stale = VerificationRequest.objects.filter(
            institution=institution,
            state=RequestState.DONE,
            finished_at__lt=evidence_before,
            evidence_purged_at__isnull=True,
        )
        with purge_allowed():
            requests, attempts = _purge_evidence(stale, now)
        if requests:
            audit_record(
                action=AuditAction.PURGED,
                actor=None,
                actor_label="retention",
                institution=institution,
                object_type="evidence",
                details={
                    "requests": requests,
                    "attempts": attempts,
                    "finished_before": evidence_before.isoformat(),
                },
            )
        events = audit_events_purge(institution=institution, before=audit_before)
    return {"requests": requests, "attempts": attempts, "audit_events": events}


def retention_purge_tick(*, now: datetime | None = None) -> dict[int, dict[str, int]]:
    """Daily: purge each institution's expired evidence and audit events."""
    now = now or timezone.now()
    report = {}
    for institution in Institution.objects.order_by("id"):
        done = retention_purge_institution(institution=institution, now=now)
        if any(done.values()):
            report[institution.pk] = done
            logger.info("retention purge of institution %s: %s", institution.pk, done)
    return report


# --- Erasure ----------------------------------------------------------------------------------


def _check_may_erase(acting_user: User, applicant: Applicant) -> None:
    if not acting_user.is_supervisor or acting_user.institution_id != applicant.institution_id:
        raise PermissionDenied("only a supervisor or an institution admin erases an applicant")


@transaction.atomic
def applicant_erase(
    *, applicant: Applicant, acting_user: User, justification: str, ip: str | None = None
) -> dict[str, int]:
    """Erase an applicant and everything that holds their data (see the module docstring)."""
    _check_may_erase(acting_user, applicant)
    justification = (justification or "").strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise ValidationError(
            {
                "justification": _("Indiquez le motif de l'effacement (%(n)s caractères au moins).")
                % {"n": MIN_JUSTIFICATION}
            }
        )
    applicant = Applicant.objects.select_for_update().get(pk=applicant.pk)
    claims = Claim.objects.filter(applicant=applicant)
    requests = VerificationRequest.objects.filter(claim__in=claims)
    if requests.filter(state__in=[RequestState.PENDING, RequestState.RUNNING]).exists():
        raise ValidationError(
            _("Une vérification de ce candidat est en cours : attendez qu'elle se termine.")
        )
    now = timezone.now()
    applicant_id = applicant.pk
    institution = applicant.institution
    # The analytics' days that counted these requests are counted again without them.
    finished_days = {
        analytics.local_day(finished)
        for finished in requests.exclude(finished_at=None).values_list("finished_at", flat=True)
        if finished is not None
    }
    with purge_allowed():
        _purge_evidence(requests, now)
        certificates_erase(requests, now)
        attempts, _detail = VerificationAttempt.objects.filter(request__in=requests).delete()
        VerdictChange.objects.filter(claim__in=claims).delete()
        request_count, _detail = requests.delete()
        claim_count, _detail = claims.delete()
        applicant.delete()
    analytics_rollup_forget(institution_id=institution.pk, days=finished_days)
    counts = {"claims": claim_count, "requests": request_count, "attempts": attempts}
    audit_record(
        action=AuditAction.ERASED,
        actor=acting_user,
        institution=institution,
        object_type="applicant",
        object_id=applicant_id,
        applicant_id=applicant_id,
        ip=ip,
        purpose="droit à l'effacement (RGPD art. 17)",
        details={**counts, "justification_length": len(justification)},
    )
    return counts


# --- Export -----------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _iso(getattr(obj, name)) for name in fields}


# Every identity field is exported: a field added to the identity is in the GDPR export too.
APPLICANT_FIELDS = ("id", *IDENTITY_FIELDS, "created_at", "updated_at")
CLAIM_FIELDS = (
    "id",
    "kind",
    "declared",
    "verdict",
    "verdict_reason",
    "verified_at",
    "valid_until",
    "created_at",
)
REQUEST_FIELDS = (
    "id",
    "source",
    "state",
    "trigger",
    # An identity variant tried after "not found": what was sent instead of the record.
    "variant",
    "verdict",
    "reason",
    "diff",
    "evidence",
    "evidence_hash",
    "evidence_purged_at",
    "notes",
    "created_at",
    "finished_at",
)
ATTEMPT_FIELDS = (
    "id",
    "created_at",
    "source",
    "outcome",
    "http_status",
    "provider_error_code",
    "duration_ms",
    "upstream_request_id",
    "payload",
)
EVENT_FIELDS = ("seq", "created_at", "actor_label", "action", "object_type", "object_id", "purpose")


@transaction.atomic
def applicant_export(
    *, applicant: Applicant, acting_user: User, ip: str | None = None, export_format: str = "json"
) -> dict[str, Any]:
    """Everything Vigie holds about one applicant, as JSON-ready data (right of access).
    ``export_format`` is what the audit event records: "json" (the download for machines) or
    "html" (the page for the applicant, which shows the same records in words)."""
    if acting_user.institution_id != applicant.institution_id:
        raise PermissionDenied
    claims = list(Claim.objects.filter(applicant=applicant).order_by(claim_kind_order(), "id"))
    requests = list(
        VerificationRequest.objects.filter(claim__in=claims)
        .select_related("requested_by")
        .order_by("created_at", "id")
    )
    attempts: dict[int, list[dict[str, Any]]] = {}
    for attempt in VerificationAttempt.objects.filter(request__in=requests).order_by(
        "created_at", "id"
    ):
        attempts.setdefault(attempt.request_id, []).append(_row(attempt, ATTEMPT_FIELDS))
    by_claim: dict[int, list[dict[str, Any]]] = {}
    for request in requests:
        row = _row(request, REQUEST_FIELDS)
        row["requested_by"] = request.requested_by.get_username() if request.requested_by else ""
        row["attempts"] = attempts.get(request.pk, [])
        by_claim.setdefault(request.claim_id, []).append(row)
    # Recorded before reading the trail, so the export lists itself.
    audit_record(
        action=AuditAction.EXPORTED,
        actor=acting_user,
        institution=applicant.institution,
        obj=applicant,
        applicant_id=applicant.pk,
        ip=ip,
        purpose="droit d'accès (RGPD art. 15)",
        details={"format": export_format, "claims": len(claims), "requests": len(requests)},
    )
    events = AuditEvent.objects.filter(
        institution_id=applicant.institution_id, applicant_id=applicant.pk
    ).order_by("seq")
    return {
        "format": "vigie-applicant-export/1",
        "generated_at": timezone.now().isoformat(),
        "institution": {"name": applicant.institution.name, "siret": applicant.institution.siret},
        "applicant": _row(applicant, APPLICANT_FIELDS),
        "claims": [
            {**_row(claim, CLAIM_FIELDS), "requests": by_claim.get(claim.pk, [])}
            for claim in claims
        ],
        "audit_events": [_row(event, EVENT_FIELDS) for event in events],
    }
