"""From Vigie's rows to what a provider client takes: identity, query, configuration.

Provider modules never see a model; this module is the only translation between the two.
"""

import hashlib

from django.conf import settings

from admissions.claims import (
    CertificationDeclared,
    CovoiturageDeclared,
    CvecDeclared,
    ScolariteDeclared,
    declared_as,
)
from admissions.enums import ClaimKind, Source
from admissions.models import Applicant, Claim, Institution, InstitutionCredential
from verifications.providers.base import (
    CertificationQuery,
    CovoiturageQuery,
    CvecQuery,
    Identity,
    ProviderConfig,
    Query,
    ScolariteQuery,
)


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


def query_for(claim: Claim, *, recipient: str) -> Query:
    declared = declared_as(claim.kind, claim.declared)
    applicant = claim.applicant
    match declared:
        case ScolariteDeclared(uai=uai, school_year=year):
            return ScolariteQuery(
                identity=identity_for(applicant), uai=uai, school_year=year, recipient=recipient
            )
        case CvecDeclared(code=code, campaign=campaign):
            return CvecQuery(code=code, birth_name=applicant.birth_name, campaign=campaign)
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


def token_key(config: ProviderConfig) -> str:
    """Identifies a token in rate-limit keys without revealing it."""
    if not config.token:
        return ""
    return hashlib.sha256(config.token.encode()).hexdigest()[:16]
