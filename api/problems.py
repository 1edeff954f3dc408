"""Errors of the API as ``application/problem+json`` (RFC 9457): ``type``, ``title``,
``status``, ``detail``, and for invalid input ``errors: [{path, message}]``. Titles and
messages are in the request's language (Accept-Language, through Django's LocaleMiddleware):
French by default, English on request.

``problem`` builds one; ``ApiProblem`` is raised by the door's own checks (key, scope, rate);
``install_handlers`` maps every exception ninja or a service raises; ``ProblemMiddleware``
(``api/middleware.py``) turns any other error answer under ``/api/`` (Django's 404 and 405
pages, a crash) into one, so that no HTML error page ever leaves the API.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError


logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vigie:api:problem:"

TITLES = {
    400: _("Requête invalide"),
    401: _("Authentification requise"),
    403: _("Accès refusé"),
    404: _("Ressource introuvable"),
    405: _("Méthode non autorisée"),
    406: _("Format de réponse non disponible"),
    409: _("Conflit"),
    413: _("Requête trop volumineuse"),
    415: _("Type de contenu non pris en charge"),
    422: _("Données invalides"),
    429: _("Trop de requêtes"),
    500: _("Erreur interne"),
    503: _("Service indisponible"),
}
# The problem type of each status, when no more precise one is given.
TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}
DETAILS = {
    404: _("Aucune ressource ne correspond à cette adresse."),
    405: _("Cette méthode HTTP n'est pas acceptée à cette adresse."),
    500: _("Une erreur inattendue est survenue ; elle a été enregistrée."),
}


def problem(
    status: int,
    detail: Any = None,
    *,
    kind: str | None = None,
    errors: Iterable[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + (kind or TYPES.get(status, "error")),
        "title": str(TITLES.get(status, _("Erreur"))),
        "status": status,
    }
    detail = detail if detail is not None else DETAILS.get(status)
    if detail is not None:
        body["detail"] = str(detail)
    errors = list(errors)
    if errors:
        body["errors"] = [{"path": e["path"], "message": str(e["message"])} for e in errors]
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ApiProblem(Exception):
    """A refusal by the door itself (no key, a revoked key, a missing scope, too many
    requests), answered as a problem."""

    def __init__(
        self,
        status: int,
        detail: Any,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Iterable[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = dict(headers or {})
        self.errors = list(errors)

    def response(self) -> HttpResponse:
        return problem(
            self.status, self.detail, kind=self.kind, headers=self.headers, errors=self.errors
        )


def invalid(exc: DjangoValidationError, *, prefix: str = "") -> ApiProblem:
    """422 for a service's refusal, its fields as paths under ``prefix``."""
    return ApiProblem(
        422, _("La requête contient des erreurs."), errors=domain_errors(exc, prefix=prefix)
    )


def domain_errors(exc: DjangoValidationError, *, prefix: str = "") -> list[dict[str, str]]:
    """A service's ``ValidationError`` (keyed by field, in the active language) as paths:
    ``birth_date``, ``declared.uai``; errors of the whole object take the prefix alone."""
    if not hasattr(exc, "error_dict"):
        return [{"path": prefix, "message": message} for message in exc.messages]
    found: list[dict[str, str]] = []
    for field, errors in exc.error_dict.items():
        path = prefix if field == "__all__" else ".".join(p for p in (prefix, field) if p)
        for error in errors:
            found.extend({"path": path, "message": message} for message in error.messages)
    return found


def _pydantic_message(error: Mapping[str, Any]) -> str:
    """A schema error in the active language: what is wrong with the value, never echoing
    it."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return gettext("Ce champ est obligatoire.")
    if kind == "extra_forbidden":
        return gettext("Ce champ n'est pas attendu.")
    if kind in {"json_invalid", "json_type"}:
        return gettext("Le corps de la requête n'est pas un document JSON valide.")
    if kind in {"literal_error", "enum"}:
        return gettext("Valeur non autorisée ; valeurs possibles : %(expected)s.") % {
            "expected": ctx.get("expected", "")
        }
    if kind.startswith(("string_", "str_")):
        if kind == "string_too_long":
            return gettext("Texte trop long (%(max)s caractères au plus).") % {
                "max": ctx.get("max_length", "")
            }
        return gettext("Une chaîne de caractères est attendue.")
    if kind.startswith(("int_", "float_")):
        return gettext("Un nombre entier est attendu.")
    if kind.startswith("list_") or kind == "too_long":
        return gettext("Une liste est attendue.")
    if kind.startswith(("dict_", "model_")):
        return gettext("Un objet JSON est attendu.")
    if kind.startswith(("datetime_", "date_")):
        return gettext("Une date au format ISO 8601 est attendue.")
    if kind.startswith("bool_"):
        return gettext("Un booléen (true ou false) est attendu.")
    return gettext("Valeur invalide.")


def schema_errors(exc: NinjaValidationError) -> list[dict[str, str]]:
    found = []
    for error in exc.errors:
        # ninja's first item names where the value came from (body, query, path).
        loc = [str(part) for part in error.get("loc", ())][1:]
        # A body read as one parameter is named after it ("payload"): not part of the path.
        if loc and loc[0] == "payload":
            loc = loc[1:]
        found.append({"path": ".".join(loc), "message": _pydantic_message(error)})
    return found


def install_handlers(api: NinjaAPI) -> None:
    # Each handler's ``exc`` is ``Any``: ninja types it as the exception or its class
    # (``ninja.errors.Exc``), though it always passes the instance raised.
    def on_problem(request: HttpRequest, exc: Any) -> HttpResponse:
        return exc.response()

    def on_schema(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(422, gettext("La requête contient des erreurs."), errors=schema_errors(exc))

    def on_domain(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(422, gettext("La requête contient des erreurs."), errors=domain_errors(exc))

    def on_auth(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(
            401,
            gettext("Présentez une clé d'API : « Authorization: Bearer vgk_… »."),
            headers={"WWW-Authenticate": 'Bearer realm="vigie"'},
        )

    def on_http(request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja's 400 is a body it could not parse.
        detail = (
            gettext("Le corps de la requête n'est pas un document JSON valide.")
            if exc.status_code == 400
            else None
        )
        return problem(exc.status_code, detail)

    def on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(404)

    def on_denied(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(403)

    def on_crash(request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja calls this outside the except block: the exception is passed explicitly.
        logger.error("API request failed: %s %s", request.method, request.path, exc_info=exc)
        return problem(500)

    api.add_exception_handler(ApiProblem, on_problem)
    api.add_exception_handler(NinjaValidationError, on_schema)
    api.add_exception_handler(DjangoValidationError, on_domain)
    api.add_exception_handler(AuthenticationError, on_auth)
    api.add_exception_handler(HttpError, on_http)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_denied)
    api.add_exception_handler(Exception, on_crash)
