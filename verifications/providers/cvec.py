"""API de contrôle de la CVEC (CNOUS).

``verify(session, query: CvecQuery, config) -> ProviderResult`` with a :class:`CvecRecord`, or
``found=False`` when the attestation is unknown.

The contract: docs/api/cvec.md. ``GET {base}/api/attestation/{code}?etudiant=NOM5E``
[V: docs/api/cvec.md §Endpoint, CVEC-2024], where ``NOM5E`` is the first five letters A-Z of
the birth name, upper case, accents removed, anything else dropped, or ``-`` when the name has
no such letter (:func:`etudiant_key`). Open API: no token [V]; a token, if one is ever
configured, is sent as a bearer (CVEC-2022 declared one).

The campaign: the API answers for "la campagne en cours" [V]. The 2025 catalogue lists ``year``
and ``campagne`` inputs but not the route that takes them [?], and since this API answers an
unknown attestation with HTTP 400, an ignored-or-refused extra parameter could silently turn every
answer into "not found". So ``query.campaign`` is **not sent**; the verdict compares it with the
campaign in progress.

Answers [V: CVEC-2024 ``CertificateDto``; CVEC-2022]: ``date_naissance`` (2024) or
``dateNaissance`` (2022), ``JJ/MM/AAAA`` per the 2025 catalogue, ISO accepted too; ``sexe``
"M"/"F" (api.gouv.fr) or "1"/"2" (2025 catalogue), both accepted; ``etat.code`` typed string but
compared as ``str(code).strip()`` so numbers work too. No documented answer echoes the
campaign; the 2025 catalogue's ``campagne``/``year`` inputs suggest newer answers may, so a
``campagne``, ``annee`` or ``year`` key (text, number, or an object with ``libelle``/``code``)
is kept as text in ``CvecRecord.campaign`` [?] and compared by the verdict (docs/VERDICTS.md).

Statuses [V: CVEC-2024]: 200 answer; **400 = attestation not found** (a result); 404 = "the code
parameter is missing" (rejected: with a code in the path this means a wrong base URL); 429 (none
documented [?]) rate-limited; 5xx unavailable; other 4xx rejected.
"""

import unicodedata
import urllib.parse
from typing import Any

import requests

from verifications.enums import Source
from verifications.names import fold_to_ascii
from verifications.providers import coerce, http
from verifications.providers.base import (
    INVALID_QUERY,
    CvecQuery,
    CvecRecord,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)


SOURCE = Source.CVEC
_CAMPAIGN_KEYS = ("campagne", "annee", "year", "annee_universitaire")
ROUTE = "/api/attestation/{code}"
_SEXES = {"M": "M", "F": "F", "1": "M", "2": "F", "MASCULIN": "M", "FEMININ": "F"}


def verify(session: requests.Session, query: CvecQuery, config: ProviderConfig) -> ProviderResult:
    if not config.configured:
        raise ProviderNotConfigured("no base URL", setting="base_url", source=SOURCE)
    code = "".join((query.code or "").split()).upper()
    if not code:
        raise ProviderRejected("invalid query: code", code=INVALID_QUERY, source=SOURCE)
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    answer = http.get(
        session,
        config,
        ROUTE.format(code=urllib.parse.quote(code, safe="")),
        source=SOURCE,
        route=ROUTE,
        params=[("etudiant", etudiant_key(query.birth_name))],
        headers=headers,
    )
    return parse_answer(answer)


def etudiant_key(birth_name: str) -> str:
    """The ``etudiant`` parameter: "Les 5 premiers caractères du nom. Pour rechercher un étudiant
    n'ayant pas de nom de famille, utilisez le caractère tiret '-'" [V: DGF-CVEC, the 2025
    catalogue]; letters outside A-Z dropped as public clients do [V-3p]. Whether the server
    ignores accents and case is not documented [?], so they are removed before sending.
    """
    letters = "".join(c for c in fold_to_ascii(birth_name or "").upper() if "A" <= c <= "Z")
    return letters[:5] or "-"


def parse_answer(answer: http.Answer) -> ProviderResult:
    payload = coerce.as_dict(answer.payload)
    code = coerce.as_str(payload.get("code")) or ""
    if answer.status == 200:
        if not payload:
            raise ProviderUnavailable(
                "unexpected body", call=answer.call_with(body="unexpected"), source=SOURCE
            )
        return ProviderResult(
            source=SOURCE, found=True, data=parse_record(payload), call=answer.call_with()
        )
    if answer.status == 400:
        # "L'attestation n'a pas été trouvée." -- the API's (unusual) not-found status [V].
        return ProviderResult(
            source=SOURCE, found=False, data=None, call=answer.call_with(provider_error_code=code)
        )
    # 404 "Le paramètre code est manquant." [V] -> rejected through the 4xx rule.
    http.raise_for_status(answer, source=SOURCE, code=code)
    raise ProviderUnavailable(
        f"unexpected status {answer.status}", call=answer.call_with(), source=SOURCE
    )


def parse_record(payload: dict[str, Any]) -> CvecRecord:
    etat = coerce.as_dict(payload.get("etat"))
    exoneration = coerce.as_dict(payload.get("exoneration"))
    birth_date = payload.get("date_naissance")
    if birth_date is None:
        birth_date = payload.get("dateNaissance")
    sex_text = unicodedata.normalize("NFKD", coerce.as_str(payload.get("sexe")) or "")
    sex_key = "".join(c for c in sex_text if not unicodedata.combining(c)).upper()
    return CvecRecord(
        birth_name=coerce.as_str(payload.get("nom")),
        usage_name=coerce.as_str(payload.get("nomUsage")),
        first_name=coerce.as_str(payload.get("prenom")),
        sex=_SEXES.get(sex_key),
        birth_date=coerce.as_date(birth_date),
        ine=coerce.as_str(payload.get("ine")),
        crous=coerce.as_str(payload.get("crous")),
        state_code=coerce.as_str(etat.get("code")),
        state_label=coerce.as_str(etat.get("libelle")),
        exemption_active=coerce.as_bool(exoneration.get("active")),
        exemption_reason=coerce.as_str(exoneration.get("motif")),
        campaign=_campaign(payload),
        keys=tuple(sorted(payload)),
    )


def _campaign(payload: dict[str, Any]) -> str | None:
    """The campaign the answer echoes, as text ("2025-2026", "2025"), if any [?]."""
    for key in _CAMPAIGN_KEYS:
        raw = payload.get(key)
        if isinstance(raw, dict):
            raw = raw.get("libelle") or raw.get("code") or raw.get("annee")
        text = coerce.as_str(raw)
        if text:
            return text
    return None
