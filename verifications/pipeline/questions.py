"""From Vigie's rows to what a provider client takes: identity, query, configuration.

Provider modules never see a model; this module is the only translation between the two. It
writes nothing (``config_for`` reads the institution's credential): the worker, the CLI, the
services that file requests and the selectors all ask it what a check of a claim asks.
"""

from collections.abc import Mapping

from django.conf import settings
from django.db.models import OuterRef, Subquery, TextField

from admissions.infra import crypto
from admissions.models import Applicant, Institution
from verifications.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    Declared,
    ScolariteDeclared,
    declared_as,
    declared_to_json,
    question_digest,
    question_identity,
)
from verifications.enums import ClaimKind, Source
from verifications.models import Claim, InstitutionCredential
from verifications.providers.base import (
    CertificationQuery,
    CovoiturageQuery,
    CvecQuery,
    Identity,
    ProviderConfig,
    Query,
    ScolariteQuery,
)
from verifications.rematch import Variant, apply_declared, apply_identity


def source_for(kind: str) -> Source:
    return ClaimKind(kind).source


def identity_for(applicant: Applicant) -> Identity:
    return Identity(
        birth_name=applicant.birth_name,
        usage_name=applicant.usage_name,
        first_names=tuple(applicant.first_names),
        sex=applicant.sex,
        birth_date=applicant.birth_date,
        ine=applicant.ine,
    )


def variant_of(request_variant: Mapping[str, object] | None) -> Variant | None:
    """A request's identity variant (``VerificationRequest.variant``), if it tries one."""
    return Variant.from_json(request_variant) if request_variant else None


def question_for(claim: Claim, variant: Variant | None = None) -> tuple[Identity, Declared]:
    """What a check of ``claim`` asks: the applicant's identity and the declaration, with the
    variant's changes applied when it tries one."""
    identity = apply_identity(identity_for(claim.applicant), variant)
    declared = apply_declared(declared_as(claim.kind, claim.declared), variant)
    return identity, declared


def question_digest_for(claim: Claim, variant: Variant | None = None) -> str:
    """``verifications.claims.question_digest`` of the question a check of ``claim`` asks."""
    identity, declared = question_for(claim, variant)
    return question_digest(claim.kind, declared_to_json(declared), question_identity(identity))


def query_for(claim: Claim, *, recipient: str, variant: Variant | None = None) -> Query:
    identity, declared = question_for(claim, variant)
    match declared:
        case ScolariteDeclared(uai=uai, school_year=year):
            return ScolariteQuery(identity=identity, uai=uai, school_year=year, recipient=recipient)
        case CvecDeclared(code=code, campaign=campaign):
            return CvecQuery(code=code, birth_name=identity.birth_name, campaign=campaign)
        case CertificationDeclared(code=code):
            return CertificationQuery(code=code)
        case CovoiturageDeclared(uuid=uuid):
            return CovoiturageQuery(uuid=uuid)
    raise ValueError(f"unknown claim kind {claim.kind!r}")


def recipient_for(institution: Institution) -> str:
    """API Particulier's `recipient`: the SIRET of the body that uses the data."""
    return institution.siret or settings.API_PARTICULIER_RECIPIENT


def config_for(source: str, institution: Institution) -> ProviderConfig:
    """The source's settings, with the institution's own token when it stored one."""
    credential = (
        InstitutionCredential.objects.filter(institution=institution, source=source)
        .only("token")
        .first()
    )
    return ProviderConfig.from_settings(source, token=credential.token if credential else None)


def stored_token_of_request() -> Subquery:
    """The request's institution's stored token for its source, still encrypted: an
    annotation of a ``VerificationRequest`` query, so that the worker reads it with the
    request (one statement less per check) and decrypts it only where it sends it
    (``config_from_stored``)."""
    return Subquery(
        InstitutionCredential.objects.filter(
            institution_id=OuterRef("institution_id"), source=OuterRef("source")
        ).values("token")[:1],
        output_field=TextField(),
    )


def config_from_stored(source: str, ciphertext: str | None) -> ProviderConfig:
    """``config_for``, from the stored token as ``stored_token_of_request`` read it; raises
    ``crypto.DecryptionError`` when the configured keys cannot read it."""
    token = crypto.decrypt(ciphertext) if ciphertext else None
    return ProviderConfig.from_settings(source, token=token)
