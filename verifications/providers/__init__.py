"""Clients of the four government APIs Vigie checks claims against, one module per source,
each exposing ``verify(session, query, config) -> ProviderResult``; ``VERIFIERS`` maps each
source to its own. The types they take, return and raise are ``providers.base``'s (re-exported
here). The contract (what a client may do, what each exception means): docs/PROVIDERS.md.
"""

from verifications.enums import Source
from verifications.providers import certifinfo, covoiturage, cvec, scolarite
from verifications.providers.base import (
    CallInfo,
    CertificationQuery,
    CertificationRecord,
    CovoiturageQuery,
    CovoiturageRecord,
    CvecQuery,
    CvecRecord,
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
    Query,
    ScolariteQuery,
    ScolariteRecord,
    Verifier,
    verifier_of,
)
from verifications.providers.http import build_session


VERIFIERS: dict[str, Verifier[Query]] = {
    Source.API_PARTICULIER: verifier_of(ScolariteQuery, scolarite.verify),
    Source.CVEC: verifier_of(CvecQuery, cvec.verify),
    Source.CERTIFINFO: verifier_of(CertificationQuery, certifinfo.verify),
    Source.COVOITURAGE: verifier_of(CovoiturageQuery, covoiturage.verify),
}

__all__ = [
    "VERIFIERS",
    "CallInfo",
    "CertificationQuery",
    "CertificationRecord",
    "CovoiturageQuery",
    "CovoiturageRecord",
    "CvecQuery",
    "CvecRecord",
    "Identity",
    "ProviderConfig",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderResult",
    "ProviderUnavailable",
    "Query",
    "ScolariteQuery",
    "ScolariteRecord",
    "Verifier",
    "build_session",
]
