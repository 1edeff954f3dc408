"""API Particulier v2 (deprecated): ``GET /api/v2/scolarites`` with ``X-Api-Key``.

It answers the legacy shapes of docs/api/api-particulier.md §Responses and §Errors (``eleve``,
``status_eleve``; errors ``{error, reason, message}``), or 410 for every call when the
``particulier_v2`` knob is ``gone``. Limits and the ban are the gateway's and apply as for
v3/v4. Bodies marked [V] are verbatim; the rest are [guessed] in the same shape.
"""

import re
from datetime import date
from typing import Any

from sandbox import scolarite
from sandbox.httpkit import Response, json_response
from sandbox.particulier_tokens import TokenInfo
from sandbox.state import Context


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})(?:-\d{4})?$")


def _legacy(status: int, error: str, reason: str, message: str, **extra: Any) -> Response:
    return json_response(status, {"error": error, "reason": reason, "message": message}, **extra)


def not_found() -> Response:  # [V]
    return _legacy(
        404,
        "not_found",
        "Student not found",
        "Aucun étudiant n'a pu être trouvé avec les critères de recherche fournis",
    )


def bad_gender() -> Response:  # [V]
    return _legacy(
        400,
        "unprocessable_entity_error_gender_error",
        "Entité non traitable",
        "Le sexe n'est pas correctement formaté (m ou f)",
    )


def too_many(headers: list[tuple[str, str]]) -> Response:  # [guessed]
    return _legacy(
        429,
        "too_many_requests",
        "Trop de requêtes",
        "Vous avez effectué trop de requêtes",
        headers=headers,
    )


def provider_error(status: int) -> Response:  # [guessed]
    if status == 429:
        return too_many([("Retry-After", "1")])
    if status == 503:
        return _legacy(503, "network_error", "Erreur réseau", "Erreur de connexion au fournisseur")
    if status == 504:
        return _legacy(504, "provider_timeout", "Délai dépassé", "Le fournisseur n'a pas répondu")
    return _legacy(status, "provider_error", "Erreur du fournisseur", "Erreur du fournisseur")


def _query(ctx: Context) -> scolarite.Query | Response:
    req = ctx.request
    sexe = req.arg("sexe")
    if sexe is not None and sexe not in ("m", "f"):
        return bad_gender()
    values = {name: (req.arg(name) or "").strip() for name in ("nom", "prenom", "sexe")}
    birth = _DATE.match(req.arg("dateNaissance") or "")
    year = _YEAR.match(req.arg("anneeScolaire") or "")
    uai = (req.arg("codeEtablissement") or "").strip().upper()
    birth_date = None
    if birth:
        try:
            birth_date = date(*(int(g) for g in birth.groups()))
        except ValueError:
            birth_date = None
    if not all(values.values()) or birth_date is None or not year or not uai:
        return _legacy(
            400, "bad_request", "Requête invalide", "Un ou plusieurs paramètres sont manquants"
        )
    return scolarite.Query(
        nom=values["nom"],
        prenoms=(values["prenom"],),
        sexe=values["sexe"].upper(),
        birth_date=birth_date,
        uai=uai,
        departments=(),
        any_establishment=False,
        year=int(year.group(1)),
    )


def legacy_document(document: dict[str, Any]) -> dict[str, Any]:
    """The v3 answer in v2's shape (docs/api/api-particulier.md §Responses, "From v2 to v3",
    reversed)."""
    data = document["data"]
    return {
        "eleve": data["identite"],
        "code_etablissement": data["etablissement"]["code_uai"],
        "annee_scolaire": data["annee_scolaire"],
        "est_scolarise": data["est_scolarise"],
        "est_boursier": data["est_boursier"],
        "status_eleve": data["statut_eleve"],
    }


def handle(ctx: Context, info: TokenInfo | None) -> Response:
    if ctx.knobs.particulier_v2 == "gone":
        return _legacy(410, "gone", "API retirée", "La version 2 de l'API n'est plus servie.")
    if info is None or info.error:
        return _legacy(
            401,
            "access_denied",
            "Accès refusé",
            "Votre token n'est pas valide ou n'est pas renseigné",
        )
    query = _query(ctx)
    if isinstance(query, Response):
        return query
    fault = ctx.simulate_upstream()
    if fault == "outage":
        return provider_error(503)
    if fault:
        return provider_error(int(fault.partition("/")[0]))
    case = scolarite.find_case(query, "scolarites_v2")
    if case is not None:
        return Response(case.status, case.payload.encode())
    found = scolarite.find_person(ctx, query)
    if found is None:
        return not_found()
    status, document = scolarite.person_document(found)
    if status == 404:
        return not_found()
    if status != 200:
        return provider_error(status)
    return json_response(200, legacy_document(document))
