"""Clients of the four government APIs Vigie checks claims against.

One module per source, each exposing ``verify(session, query, config) -> ProviderResult``:

========================  ==============================  ======================
source                    module                          query
========================  ==============================  ======================
``api_particulier``       ``providers.scolarite``         ``ScolariteQuery``
``cvec``                  ``providers.cvec``              ``CvecQuery``
``certifinfo``            ``providers.certifinfo``        ``CertificationQuery``
``covoiturage``           ``providers.covoiturage``       ``CovoiturageQuery``
========================  ==============================  ======================

The types they take, return and raise are in ``providers.base`` (re-exported here); the HTTP
plumbing (session, timeouts, redaction) in ``providers.http``. Providers never import models and
never read settings at import time: the caller builds a ``ProviderConfig`` per call
(``ProviderConfig.from_settings(source, token=<institution's token or None>)``).

``VERIFIERS`` maps each source to its ``verify``; ``QUERY_TYPES`` each source to its query type.
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

QUERY_TYPES: dict[str, type] = {
    Source.API_PARTICULIER: ScolariteQuery,
    Source.CVEC: CvecQuery,
    Source.CERTIFINFO: CertificationQuery,
    Source.COVOITURAGE: CovoiturageQuery,
}


def verify(
    source: str, session: requests.Session, query: Query, config: ProviderConfig
) -> ProviderResult:
    """Call ``source``'s client; the query must be that source's query type."""
    if not isinstance(query, QUERY_TYPES[source]):
        raise TypeError(f"{source} takes a {QUERY_TYPES[source].__name__}")
    return VERIFIERS[source](session, query, config)


__all__ = [
    "QUERY_TYPES",
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
    "verify",
]
