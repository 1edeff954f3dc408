"""Writes of claims: what an applicant declares, recorded with the applicant
(``admissions.services.applicant_create``, through the hooks registered below), added or
edited on its own, and following the applicant's identity when it changes.

Each service is one transaction that records its audit event; a claim recorded by an
institution that checks claims as soon as they are recorded is sent to its source once
committed (``admissions/verify_on_record.py``).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from admissions.audit import audit_record
from admissions.claim_hooks import claim_hooks_register
from admissions.enums import AuditAction
from admissions.models import Applicant, Institution, User
from admissions.verify_on_record import claims_verify_on_commit
from verifications.claims import (
    IDENTITY_KINDS,
    QUESTION_IDENTITY_FIELDS,
    claim_question_digest,
    clean_declared,
)
from verifications.models import Claim


def _require_institution(user: User) -> Institution:
    institution = user.institution
    if institution is None:
        raise PermissionDenied("this user belongs to no institution")
    return institution


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


class ClaimHooks:
    """The applicant domain's hooks (``admissions/claim_hooks.py``): its services record an
    applicant with their claims, and edit their identity, through these."""

    def clean(self, kind: str, declared: Mapping[str, Any]) -> dict[str, Any]:
        return clean_declared(kind, declared)

    def record(
        self,
        *,
        acting_user: User,
        applicant: Applicant,
        claims: Iterable[tuple[str, dict[str, Any]]],
        ip: str | None,
    ) -> list[int]:
        return [
            _claim_insert(
                acting_user=acting_user, applicant=applicant, kind=kind, declared=declared, ip=ip
            ).pk
            for kind, declared in claims
        ]

    def identity_changed(self, *, applicant: Applicant, fields: Iterable[str]) -> list[int]:
        if not set(QUESTION_IDENTITY_FIELDS) & set(fields):
            return []
        return _claims_ask_again(applicant)


def claim_hooks_install() -> None:
    """Called by ``VerificationsConfig.ready``, in every process."""
    claim_hooks_register(ClaimHooks())
