"""Batches for the worker tests: built from people the sandbox confirms, launched as the
product launches them, and the checks that each request ended exactly once."""

from collections import Counter

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from sandbox.population import (
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import ClaimKind, RequestState, Trigger, Verdict
from verifications.models import Batch, VerificationRequest
from verifications.services import verification_requests_create


EXPECTED = {
    ClaimKind.SCOLARITE: ({"scolarite": ScolariteOutcome.ENROLLED}, Verdict.CONFIRMED),
    ClaimKind.CVEC: ({"cvec": CvecOutcome.VALID}, Verdict.CONFIRMED),
    ClaimKind.CERTIFICATION: ({"certification": CertificationOutcome.ACTIVE}, Verdict.CONFIRMED),
    ClaimKind.COVOITURAGE: ({"covoiturage": CovoiturageOutcome.OK}, Verdict.CONFIRMED),
}


def batch_of(kinds: list[str], *, per_kind: int, distinct: bool = True):
    institution = InstitutionFactory()
    user = UserFactory(institution=institution, supervisor=True)
    claims = []
    for kind in kinds:
        outcome, _verdict = EXPECTED[kind]
        base = person_with(**outcome)
        claims += [claim_for(base, kind, institution) for _ in range(per_kind)]
    batch = Batch.objects.create(
        institution=institution, kind="verification", label="test", total=len(claims)
    )
    created = verification_requests_create(
        claims=claims, acting_user=user, trigger=Trigger.BATCH, batch=batch
    )
    assert created == len(claims)
    return batch, claims


def batch_done(batch) -> bool:
    return (
        not VerificationRequest.objects.filter(batch=batch)
        .exclude(state=RequestState.DONE)
        .exists()
    )


def assert_each_ended_exactly_once(batch, claims) -> None:
    requests = VerificationRequest.objects.filter(batch=batch)
    assert requests.count() == len(claims)
    assert not requests.exclude(state=RequestState.DONE).exists()
    per_claim = Counter(
        AuditEvent.objects.filter(
            action=AuditAction.VERDICT_RECORDED, object_type="claim"
        ).values_list("object_id", flat=True)
    )
    assert {str(c.pk): per_claim[str(c.pk)] for c in claims} == {str(c.pk): 1 for c in claims}
