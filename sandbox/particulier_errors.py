"""API Particulier's error bodies (v3/v4 ``errors[]`` envelope).

The bodies marked [V] are verbatim from docs/api/api-particulier.md §Errors (the OpenAPI examples
of the MEN scolarités endpoint). The others are guesses in the same envelope, marked [guessed].
"""

import copy
from typing import Any

from sandbox.httpkit import Response, json_response


_TOKEN = {"parameter": "token"}
_MEN = {"provider": "MEN"}

ERRORS: dict[str, dict[str, Any]] = {
    # [V] verbatim
    "00101": {
        "code": "00101",
        "title": "Interdit",
        "detail": "Votre token n'est pas valide ou n'est pas renseigné",
        "source": _TOKEN,
        "meta": {},
    },
    "00103": {
        "code": "00103",
        "title": "Jeton expiré",
        "detail": "Votre token est expiré. Vous devez refaire une demande",
        "source": _TOKEN,
        "meta": {},
    },
    "00105": {
        "code": "00105",
        "title": "Jeton sur liste noire",
        "detail": "Votre jeton est sur liste noire, celui-ci a certainement été divulgué sur un "
        "canal non-sécurisé. Vous pouvez trouver un jeton valide sur votre espace personnel: "
        "https://entreprise.api.gouv.fr/compte",
        "source": _TOKEN,
        "meta": {},
    },
    "00100": {
        "code": "00100",
        "title": "Privilèges insuffisants",
        "detail": "Votre token est valide mais vos privilèges sont insuffisants. Listez vos "
        "privilèges sur /api/introspect",
        "source": _TOKEN,
        "meta": {},
    },
    "30003": {
        "code": "30003",
        "title": "Entité non trouvée",
        "detail": "Aucun eleve n'a pu etre trouve avec les criteres de recherche fournis",
        "source": None,
        "meta": _MEN,
    },
    "00015": {
        "code": "00015",
        "title": "Conflit",
        "detail": "Une requête associé à votre jeton est déjà en cours de traitement pour ces "
        "paramètres. Veuillez attendre la fin du traitement avant d'effectuer une nouvelle "
        "requête.",
        "source": None,
        "meta": {},
    },
    "00419": {
        "code": "00419",
        "title": "Entité non traitable",
        "detail": "Les paramètres codeEtablissement et périmètre "
        "(codesBcnRegions/codesBcnDepartements) sont mutuellement exclusifs",
        "source": None,
        "meta": {},
    },
    "00203": {
        "code": "00203",
        "title": "Entité non traitable",
        "detail": "Le paramètre recipient est obligatoire",
        "source": {"parameter": "recipient"},
        "meta": {},
    },
    "00429": {
        "code": "00429",
        "title": "Trop de requêtes",
        "detail": "Vous avez effectué trop de requêtes",
        "source": None,
        "meta": {},
    },
    "30999": {
        "code": "30999",
        "title": "Erreur inconnue du fournisseur de données",
        "detail": "La réponse retournée par le fournisseur de données est invalide et inconnue "
        "de notre service. L'équipe technique a été notifiée de cette erreur pour "
        "investigation.",
        "source": None,
        "meta": _MEN,
    },
    "30002": {
        "code": "30002",
        "title": "Intermédiaire hors-délai",
        "detail": "Temps d’attente d’une réponse du fournisseur de données écoulé.",
        "source": None,
        "meta": _MEN,
    },
    "30001": {
        "code": "30001",
        "title": "Service non disponible",
        "detail": "Service du fournisseur de données temporairement indisponible ou en "
        "maintenance.",
        "source": None,
        "meta": _MEN,
    },
    "00501": {
        "code": "00501",
        "title": "Erreur réseau",
        "detail": "Problème de connexion au serveur distant. L'erreur peut venir soit du "
        "fournisseur, soit de API Entreprise. Il s'agit souvent d'une erreur temporaire.",
        "source": None,
        "meta": {"retry_in": 10},
    },
    "30004": {
        "code": "30004",
        "title": "Erreur de résolution DNS",
        "detail": "Problème de résolution DNS de l'adresse du serveur",
        "source": None,
        "meta": _MEN,
    },
    # Seen in siade's own test of the recipient check (code, title and detail, typo included);
    # not in the OpenAPI file (docs/PROVIDER_ERRORS.md).
    "00210": {
        "code": "00210",
        "title": "Entité non traitable",
        "detail": "Le paramètre recipient n'est pas un siret valid",
        "source": {"parameter": "recipient"},
        "meta": {},
    },
    # Codes listed in docs/api/api-particulier.md §Errors with their title only; source and meta
    # [guessed].
    "00366": {
        "code": "00366",
        "title": "Entité non traitable",
        "detail": "Un ou plusieurs paramètres de civilité ne sont pas correctement formatés",
        "source": None,
        "meta": {},
    },
    "00427": {
        "code": "00427",
        "title": "Entité non traitable",
        "detail": "Le sexe de l'état civil est manquant",
        "source": {"parameter": "sexeEtatCivil"},
        "meta": {},
    },
    # [guessed] undocumented statuses.
    "00500": {
        "code": "00500",
        "title": "Erreur interne du serveur",
        "detail": "Une erreur interne est survenue. L'équipe technique a été notifiée.",
        "source": None,
        "meta": {},
    },
    "00503": {
        "code": "00503",
        "title": "Service indisponible",
        "detail": "Le service est temporairement indisponible ou en maintenance.",
        "source": None,
        "meta": {},
    },
    "00404": {
        "code": "00404",
        "title": "Route inconnue",
        "detail": "Cette route n'existe pas.",
        "source": None,
        "meta": {},
    },
}

# The status each code is sent with.
STATUS_OF = {
    "00101": 401,
    "00103": 401,
    "00105": 401,
    "00100": 403,
    "30003": 404,
    "00404": 404,
    "00015": 409,
    "00419": 422,
    "00203": 422,
    "00210": 422,
    "00366": 422,
    "00427": 422,
    "00429": 429,
    "00500": 500,
    "30999": 502,
    "00503": 503,
    "30002": 504,
    "30001": 504,
    "00501": 504,
    "30004": 504,
}
# The code an injected error of a bare status gets (``error_rates`` key "504" → 30002).
DEFAULT_CODE = {401: "00101", 403: "00100", 404: "30003", 409: "00015", 422: "00366"} | {
    429: "00429",
    500: "00500",
    502: "30999",
    503: "00503",
    504: "30002",
}


def error(code: str, **changes: Any) -> dict[str, Any]:
    """One error object (a copy: callers may change ``source`` or ``detail``)."""
    return {**copy.deepcopy(ERRORS[code]), **changes}


def error_response(
    code: str, *, headers: list[tuple[str, str]] | None = None, **changes: Any
) -> Response:
    return json_response(STATUS_OF[code], {"errors": [error(code, **changes)]}, headers)


def injected(key: str) -> str:
    """The error code for an ``error_rates`` key: "502", "504/00501"..."""
    status, _, code = key.partition("/")
    if code in ERRORS:
        return code
    return DEFAULT_CODE.get(int(status), "00500")
