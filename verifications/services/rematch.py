"""Assisted re-matching (``verifications.rematch``): trying the variants a person chose, and
correcting the record from a variant the source found.

A variant's check is an ordinary verification request (rate-limited, run by the workers,
audited with who asked it, for what reason and which variant — the variant's key and the
fields it changes, never their values). It never runs by itself: a clerk picks it on the
claim's card, or a supervisor launches the variants of a batch's "not found" rows at once.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from admissions.models import User
from admissions.services import applicant_update
from verifications import rematch
from verifications.claims import IDENTITY_KINDS
from verifications.enums import BatchKind, BatchStatus, RequestState, Trigger
from verifications.models import Batch, Claim, VerificationRequest
from verifications.rematch import Variant
from verifications.services.claims import claim_update_declared
from verifications.services.decisions import written_reason
from verifications.services.requests import (
    verification_request_create,
    verification_requests_create,
)


# Stored as written (the audit trail is not translated).
CORRECTION_PURPOSE = "correction du dossier d'après une variante trouvée par la source"


def _check_purpose(purpose: str) -> str:
    return written_reason(
        purpose,
        field="purpose",
        message=_(
            "Dites en quelques mots pourquoi essayer ces variantes (%(n)s caractères au moins) : "
            "chaque essai envoie les données du candidat à la source."
        ),
        limit=255,
    )


@transaction.atomic
def claim_variants_try(
    *,
    claim: Claim,
    acting_user: User,
    keys: list[str],
    purpose: str,
    proposals: list[Variant],
    ip: str | None = None,
) -> list[VerificationRequest]:
    """Ask for the chosen variants (``keys`` among the card's ``proposals``) to be tried."""
    if claim.institution_id != acting_user.institution_id:
        raise PermissionDenied("claim of another institution")
    purpose = _check_purpose(purpose)
    offered = {variant.key: variant for variant in proposals}
    unknown = [key for key in keys if key not in offered]
    if unknown or not keys:
        raise ValidationError({"variants": _("Choisissez parmi les variantes proposées.")})
    return [
        verification_request_create(
            claim=claim,
            acting_user=acting_user,
            trigger=Trigger.MANUAL,
            ip=ip,
            purpose=purpose,
            variant=stamp(offered[key], claim),
        )
        for key in keys
    ]


def stamp(variant: Variant, claim: Claim) -> Variant:
    """The variant with the digest of the record it varies (``record``), as requests store it:
    once the record changes, it no longer counts as tried, nor as a correction."""
    return Variant(variant.key, dict(variant.changes), record=claim.question_digest)


@transaction.atomic
def applicant_correct_from_variant(
    *, request: VerificationRequest, acting_user: User, ip: str | None = None
) -> list[VerificationRequest]:
    """Write a variant the source found into the record (the applicant's identity, or the
    claim's code), then check the claim again as it now stands, with the applicant's other
    claims whose verdict the identity change reset: the sources' answers to the corrected
    record are what the verdicts will say. Audited as an edit with its reason, and as the new
    checks' requests. Returns those requests, the claim's first."""
    claim = request.claim
    if claim.institution_id != acting_user.institution_id:
        raise PermissionDenied("claim of another institution")
    variant = Variant.from_json(request.variant) if request.variant else None
    if (
        variant is None
        or request.state != RequestState.DONE
        or request.reason_code != rematch.FOUND_WITH_VARIANT
        or request.variant.get("record") != claim.question_digest
    ):
        raise ValidationError(
            _(
                "Cette variante ne peut plus corriger le dossier : il a changé depuis, ou la "
                "source ne l'a pas trouvée."
            )
        )
    identity_changes = {k: v for k, v in variant.changes.items() if k in rematch.IDENTITY_CHANGES}
    # The applicant's other claims asked about the person lose their verdict with the identity
    # they were checked for: they are checked again too.
    others = (
        list(
            Claim.objects.filter(applicant_id=claim.applicant_id, kind__in=IDENTITY_KINDS)
            .exclude(pk=claim.pk)
            .exclude(verdict="")
        )
        if identity_changes
        else []
    )
    if identity_changes:
        applicant_update(
            acting_user=acting_user,
            applicant=claim.applicant,
            changes=identity_changes,
            ip=ip,
            purpose=CORRECTION_PURPOSE,
        )
    declared_changes = {k: v for k, v in variant.changes.items() if k not in identity_changes}
    if declared_changes:
        claim_update_declared(
            acting_user=acting_user,
            claim=claim,
            declared={**claim.declared, **declared_changes},
            ip=ip,
            purpose=CORRECTION_PURPOSE,
        )
    requests = []
    for checked in (claim, *others):
        checked.refresh_from_db()
        requests.append(
            verification_request_create(
                claim=checked,
                acting_user=acting_user,
                trigger=Trigger.MANUAL,
                ip=ip,
                purpose=CORRECTION_PURPOSE,
            )
        )
    return requests


@transaction.atomic
def batch_variants_launch(
    *, batch: Batch, acting_user: User, purpose: str, ip: str | None = None
) -> Batch | None:
    """Try, in a new verification batch, every proposed variant of the claims this batch's
    sources did not find. Returns the new batch, or ``None`` when there is nothing to try."""
    from verifications.selectors import batch_variant_proposals

    if acting_user.institution_id is None or batch.institution_id != acting_user.institution_id:
        raise PermissionDenied("batch of another institution")
    if not acting_user.is_supervisor:
        raise PermissionDenied("launching a batch is for supervisors")
    purpose = _check_purpose(purpose)
    proposals = batch_variant_proposals(user=acting_user, batch=batch)
    if not proposals:
        return None
    claims = [claim for claim, _variants in proposals]
    variants = {claim.pk: [stamp(v, claim) for v in found] for claim, found in proposals}
    new_batch = Batch.objects.create(
        institution_id=acting_user.institution_id,
        kind=BatchKind.VERIFICATION,
        label=(_("Variantes des non-trouvés — %(label)s") % {"label": batch.label})[:200],
        status=BatchStatus.RUNNING,
        created_by=acting_user,
    )
    created = verification_requests_create(
        claims=claims,
        acting_user=acting_user,
        trigger=Trigger.BATCH,
        batch=new_batch,
        ip=ip,
        purpose=purpose,
        variants=variants,
    )
    new_batch.total = created
    if not created:
        new_batch.status = BatchStatus.DONE
    new_batch.save(update_fields=["total", "status"])
    return new_batch


__all__ = [
    "applicant_correct_from_variant",
    "batch_variants_launch",
    "claim_variants_try",
    "stamp",
]
