"""API Particulier, "statut élève scolarisé" (Ministère de l'Éducation nationale).

``verify(session, query: ScolariteQuery, config) -> ProviderResult`` with a
:class:`ScolariteRecord`, or ``found=False`` on 404 ``30003``.

The contract: docs/api/api-particulier.md. ``GET {base}/v4/men/scolarites/identite``
(``config.version == "v3"``: ``/v3/...``; both have the same parameters and answers
[V: docs/api/api-particulier.md §Endpoints]), ``Authorization: Bearer <token>``.
Parameters: ``recipient`` (the institution's SIRET), ``nomNaissance``, one ``prenoms[]`` item per
given name in civil-status order (API Particulier forwards only the first to the ministry, and a
comma inside one item makes the ministry refuse the call
[V: docs/api/api-particulier.md §Matching]), ``sexeEtatCivil``,
``anneeDateNaissance``/``moisDateNaissance``/``jourDateNaissance``, ``codeEtablissement`` (always
sent: v3 requires it) and ``anneeScolaire`` (``AAAA``).

Answers: the ``{data, links, meta}`` envelope, parsed leniently -- unknown keys ignored
(``etablissement.nom``), unknown ``statut_eleve`` codes kept as they are (``NS``), every key
optional because production strips the keys the token's scopes do not cover
[V: docs/api/api-particulier.md §Scopes]. Errors use ``{"errors": [{"code", "title", "detail",
"source", "meta"}]}``; we branch on ``code`` and the HTTP status, never on ``detail`` (the staging
and OpenAPI texts differ [V: docs/api/api-particulier.md §Errors]).

Error codes (https://particulier.api.gouv.fr/developpeurs, "Gérer les erreurs";
docs/api/api-particulier.md §Errors): 401 00101/00103/00105 and 403 00100 -> rejected; 404 30003
-> not found; 409 00015 -> rate-limited (conflict, ~60 s); 422 00419/00203/00366/00427 ->
rejected; 429 00429 -> rate-limited (``Retry-After``); 502 30999, 504 30002/30001/00501/30004,
500, 503 -> unavailable (``retry_in`` from ``errors[0].meta.retry_in``, e.g. 00501). 30999
("unknown provider error") is ``unavailable`` after bounded retries, not final (docs/DESIGN.md
§Request states and verdicts).
"""

import re
from typing import Any

import requests

from verifications.enums import Source
from verifications.providers import coerce, http
from verifications.providers.base import (
    INVALID_QUERY,
    ROUTE_NOT_FOUND,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
    ScolariteQuery,
    ScolariteRecord,
)


SOURCE = Source.API_PARTICULIER
DEFAULT_VERSION = "v4"
VERSIONS = ("v4", "v3")
ROUTE = "/{version}/men/scolarites/identite"

# https://particulier.api.gouv.fr/developpeurs#gerer-les-erreurs
# (docs/api/api-particulier.md §Errors)
NOT_FOUND = "30003"  # 404 "Entité non trouvée"
CONFLICT = "00015"  # 409 "Une requête associée à votre jeton est déjà en cours"
# 409 00015 has no Retry-After: wait about a minute (docs/DESIGN.md §The verification pipeline).
CONFLICT_RETRY_AFTER = 60.0
MAX_FIRST_NAMES = 3  # prenoms[]: 1 to 3 items [V: SSD-OAS3]

_SIRET = re.compile(r"^\d{14}$")
_UAI = re.compile(r"^\d{7}[A-Z]$")


def verify(
    session: requests.Session, query: ScolariteQuery, config: ProviderConfig
) -> ProviderResult:
    if not config.configured:
        raise ProviderNotConfigured("no base URL", setting="base_url", source=SOURCE)
    version = (config.version or DEFAULT_VERSION).strip().lower()
    if version not in VERSIONS:
        raise ProviderNotConfigured("unsupported version", setting="version", source=SOURCE)
    if not config.token:
        raise ProviderNotConfigured("no token", setting="token", source=SOURCE)
    if not _SIRET.match(query.recipient or ""):
        # A missing recipient is answered 422 00203; a malformed one is refused too [V: AAE-DOC].
        raise ProviderNotConfigured("no SIRET as recipient", setting="recipient", source=SOURCE)
    params = build_params(query)
    route = ROUTE.format(version=version)
    answer = http.get(
        session,
        config,
        route,
        source=SOURCE,
        route=route,
        params=params,
        headers={"Authorization": f"Bearer {config.token}"},
    )
    return parse_answer(answer)


def build_params(query: ScolariteQuery) -> list[tuple[str, str]]:
    """The query string, in order, with one ``prenoms[]`` pair per given name.

    Raises :class:`ProviderRejected` (``vigie.invalid_query``) for input the API would refuse;
    nothing is sent then. Names are sent as declared (spaces collapsed): whether the ministry's
    match is case- or accent-insensitive is not documented [?].
    """
    identity = query.identity
    birth_name = _clean(identity.birth_name)
    first_names = [_clean(name) for name in identity.first_names if _clean(name)]
    sex = (identity.sex or "").strip().upper()
    uai = (query.uai or "").strip().upper()
    problems = []
    if not birth_name:
        problems.append("birth_name")
    if not first_names or any("," in name for name in first_names):
        problems.append("first_names")
    if sex not in {"M", "F"}:
        problems.append("sex")
    birth_date = identity.birth_date
    if birth_date is None:
        problems.append("birth_date")
    if not _UAI.match(uai):
        problems.append("uai")
    if not 1990 <= int(query.school_year) <= 2100:
        problems.append("school_year")
    if problems or birth_date is None:
        raise ProviderRejected(
            "invalid query: " + ", ".join(problems), code=INVALID_QUERY, source=SOURCE
        )
    params = [("recipient", query.recipient), ("nomNaissance", birth_name)]
    # Only the first item reaches the ministry; more than 3 would be refused.
    params += [("prenoms[]", name) for name in first_names[:MAX_FIRST_NAMES]]
    params += [
        ("sexeEtatCivil", sex),
        ("anneeDateNaissance", str(birth_date.year)),
        ("moisDateNaissance", str(birth_date.month)),
        ("jourDateNaissance", str(birth_date.day)),
        ("codeEtablissement", uai),
        ("anneeScolaire", str(int(query.school_year))),
    ]
    return params


def parse_answer(answer: http.Answer) -> ProviderResult:
    """Map one HTTP answer to a result or an exception (see the module docstring)."""
    error = _first_error(answer.payload)
    code = coerce.as_str(error.get("code")) or ""
    if answer.status == 200:
        data = coerce.as_dict(answer.payload).get("data")
        if not isinstance(data, dict):
            raise ProviderUnavailable(
                "unexpected body",
                call=answer.call_with(body="unexpected"),
                source=SOURCE,
            )
        call = answer.call_with(data_keys=sorted(data))
        return ProviderResult(source=SOURCE, found=True, data=parse_record(data), call=call)
    if answer.status == 404:
        if error:
            # 30003, or another code in the API's own envelope: the API looked and found nothing.
            return ProviderResult(
                source=SOURCE,
                found=False,
                data=None,
                call=answer.call_with(provider_error_code=code),
            )
        # No envelope: the route itself does not exist (wrong base URL or version).
        raise ProviderRejected(
            "route not found", code=ROUTE_NOT_FOUND, call=answer.call_with(), source=SOURCE
        )
    if answer.status == 409:
        call = answer.call_with(provider_error_code=code)
        wait = http.parse_retry_after(answer.headers.get("Retry-After"))
        wait = CONFLICT_RETRY_AFTER if wait is None else wait
        call.redacted["retry_after"] = wait
        raise ProviderRateLimited(
            "same request in progress", retry_after=wait, conflict=True, call=call, source=SOURCE
        )
    retry_in = _retry_in(error, answer.payload)
    http.raise_for_status(answer, source=SOURCE, code=code, retry_in=retry_in)
    raise ProviderUnavailable(  # a 2xx other than 200
        f"unexpected status {answer.status}", call=answer.call_with(), source=SOURCE
    )


def parse_record(data: dict[str, Any]) -> ScolariteRecord:
    identite = coerce.as_dict(data.get("identite"))
    mef = coerce.as_dict(data.get("module_elementaire_formation"))
    statut = coerce.as_dict(data.get("statut_eleve"))
    etablissement = coerce.as_dict(data.get("etablissement"))
    sex = (coerce.as_str(identite.get("sexe")) or "").upper()
    uai = coerce.as_str(etablissement.get("code_uai"))
    return ScolariteRecord(
        birth_name=coerce.as_str(identite.get("nom")),
        first_name=coerce.as_str(identite.get("prenom")),
        sex=sex if sex in {"M", "F"} else None,
        birth_date=coerce.as_date(identite.get("date_naissance")),
        school_year=coerce.as_str(data.get("annee_scolaire")),
        enrolled=coerce.as_bool(data.get("est_scolarise")),
        status_code=coerce.as_str(statut.get("code")),
        status_label=coerce.as_str(statut.get("libelle")),
        uai=uai.upper() if uai else None,
        establishment_name=coerce.as_str(etablissement.get("nom")),
        ministry_code=coerce.as_str(etablissement.get("code_ministere_tutelle")),
        mef_code=coerce.as_str(mef.get("code_mef_stat")),
        mef_label=coerce.as_str(mef.get("libelle")),
        scholarship=coerce.as_bool(data.get("est_boursier")),
        scholarship_level=coerce.as_int(data.get("echelon_bourse")),
        keys=tuple(sorted(data)),
    )


def _first_error(payload: Any) -> dict[str, Any]:
    errors = coerce.as_dict(payload).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    return {}


def _retry_in(error: dict[str, Any], payload: Any) -> float | None:
    """``meta.retry_in`` (seconds), on the error (00501) or, tolerantly, on the envelope."""
    for meta in (
        coerce.as_dict(error.get("meta")),
        coerce.as_dict(coerce.as_dict(payload).get("meta")),
    ):
        value = meta.get("retry_in")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        if isinstance(value, str) and value.strip().isdigit():
            return float(value)
    return None


def _clean(value: str) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().replace("’", "'")
