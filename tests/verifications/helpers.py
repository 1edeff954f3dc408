"""Building claims the sandbox knows, and running them through the pipeline."""

import itertools
from datetime import timedelta

from django.utils import timezone

from admissions.models import Applicant, Institution
from sandbox.population import (
    STAGING_PUPILS,
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    Person,
    ScolariteOutcome,
    person,
)
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from verifications.enums import ClaimKind, Trigger
from verifications.models import Claim, VerdictChange, VerificationRequest
from verifications.services import verification_request_create, verification_run


_references = itertools.count(1)


def person_with(**outcomes: object) -> Person:
    """The first person of the generated population with these outcomes."""
    for i in range(50_000):
        p = person(i)
        if all(getattr(p, field) == value for field, value in outcomes.items()):
            return p
    raise LookupError(outcomes)


def answering_people(count: int) -> list[Person]:
    """The first `count` people whose scolarité source answers (a provider error would retry
    for minutes)."""
    return [p for p in map(person, range(200)) if p.scolarite != "provider_error"][:count]


def import_row(p: Person) -> dict[str, str]:
    """The CSV import row (identity + scolarité claim) of a sandbox person."""
    return {
        "reference_dossier": p.file_reference,
        "nom_naissance": p.birth_name,
        "nom_usage": p.usage_name,
        "prenom_1": p.first_names[0],
        "prenom_2": p.first_names[1] if len(p.first_names) > 1 else "",
        "prenom_3": p.first_names[2] if len(p.first_names) > 2 else "",
        "sexe": p.sex,
        "date_naissance": p.birth_date.strftime("%d/%m/%Y"),
        "scolarite_uai": p.uai,
        "scolarite_annee": str(p.school_year),
    }


def declared_for(p: Person, kind: str) -> dict:
    match kind:
        case ClaimKind.SCOLARITE:
            return {"uai": p.uai, "school_year": p.school_year}
        case ClaimKind.CVEC:
            return {"code": p.cvec_code, "campaign": p.cvec_campaign}
        case ClaimKind.CERTIFICATION:
            level = (
                None
                if p.certification == CertificationOutcome.UNKNOWN
                else p.certification_min_level
            )
            return {"code": p.certification_code, "min_level": level}
    return {"uuid": p.covoiturage_uuid}


def claim_for(p: Person, kind: str, institution: Institution) -> Claim:
    applicant = Applicant.objects.create(
        institution=institution,
        file_reference=f"T-{next(_references)}",
        birth_name=p.birth_name,
        usage_name=p.usage_name,
        first_names=list(p.first_names),
        sex=p.sex,
        birth_date=p.birth_date,
        ine=p.ine,
    )
    return Claim.objects.create(
        institution=institution, applicant=applicant, kind=kind, declared=declared_for(p, kind)
    )


def staging_claim(title_fragment: str, institution: Institution) -> Claim:
    pupil = next(
        s
        for s in STAGING_PUPILS
        if title_fragment.lower() in f"{s.birth_name} {s.first_names[0]}".lower()
    )
    applicant = Applicant.objects.create(
        institution=institution,
        file_reference=f"S-{next(_references)}",
        birth_name=pupil.birth_name,
        first_names=list(pupil.first_names),
        sex=pupil.sex,
        birth_date=pupil.birth_date,
    )
    return Claim.objects.create(
        institution=institution,
        applicant=applicant,
        kind=ClaimKind.SCOLARITE,
        declared={"uai": pupil.uai, "school_year": pupil.school_year},
    )


def request_for(claim: Claim, user=None) -> VerificationRequest:
    return verification_request_create(
        claim=claim,
        acting_user=user or UserFactory(institution=claim.institution),
        trigger=Trigger.MANUAL,
    )


def run_until_done(request: VerificationRequest, *, max_runs: int = 10) -> VerificationRequest:
    """Run the request like workers would, moving `not_before` into the past between tries."""
    for _ in range(max_runs):
        verification_run(request_id=request.pk, task_id="test")
        request.refresh_from_db()
        if request.state == "done":
            return request
        VerificationRequest.objects.filter(pk=request.pk).update(
            not_before=timezone.now() - timedelta(seconds=1)
        )
    raise AssertionError(f"request {request.pk} not done after {max_runs} runs: {request.state}")


__all__ = [
    "CovoiturageOutcome",
    "CvecOutcome",
    "ScolariteOutcome",
]


def verdict_change_for(institution: Institution, recipient=None) -> VerdictChange:
    """A claim checked twice (confirmed, then mismatch) and the notice of the change."""
    claim = ClaimFactory(applicant=ApplicantFactory(institution=institution))
    done = {"institution": institution, "claim": claim, "source": "cvec", "state": "done"}
    first = VerificationRequest.objects.create(trigger="manual", verdict="confirmed", **done)
    second = VerificationRequest.objects.create(trigger="scheduled", verdict="mismatch", **done)
    return VerdictChange.objects.create(
        institution=institution,
        claim=claim,
        request=second,
        previous_request=first,
        previous_verdict="confirmed",
        verdict="mismatch",
        recipient=recipient,
    )


def typo_claim(institution: Institution) -> tuple[Claim, Person]:
    """A pupil the sandbox knows (enrolled, valid CVEC), recorded with day and month of birth
    swapped, as a clerk's slip: not found as typed, found by the ``day_month_swapped``
    variant. Returns the scolarité claim and the person as the sandbox knows them."""
    from verifications.claims import claim_question_digest

    p = next(
        q
        for q in map(person, range(5000))
        if q.scolarite == ScolariteOutcome.ENROLLED
        and q.cvec == CvecOutcome.VALID
        and q.birth_date.day <= 12
        and q.birth_date.day != q.birth_date.month
        and len(q.first_names) == 1
        and not q.usage_name
        and q.birth_name.isalpha()
    )
    claim = claim_for(p, ClaimKind.SCOLARITE, institution)
    born = p.birth_date
    Applicant.objects.filter(pk=claim.applicant_id).update(
        birth_date=born.replace(day=born.month, month=born.day)
    )
    claim.applicant.refresh_from_db()
    Claim.objects.filter(pk=claim.pk).update(question_digest=claim_question_digest(claim))
    claim.refresh_from_db()
    return claim, p
