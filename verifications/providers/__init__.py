"""Clients of the four government APIs Vigie checks claims against, one module per source,
each exposing ``verify(session, query, config) -> ProviderResult``; ``VERIFIERS`` maps each
source to its own. The types they take, return and raise are ``providers.base``'s (re-exported
here). The contract (what a client may do, what each exception means): docs/PROVIDERS.md.
"""

from collections.abc import Callable
from typing import Any

import requests

from admissions.enums import Source
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
)
from verifications.providers.http import build_session


Verifier = Callable[[requests.Session, Any, ProviderConfig], ProviderResult]

VERIFIERS: dict[str, Verifier] = {
    Source.API_PARTICULIER: scolarite.verify,
    Source.CVEC: cvec.verify,
    Source.CERTIFINFO: certifinfo.verify,
    Source.COVOITURAGE: covoiturage.verify,
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
    "build_session",
]
