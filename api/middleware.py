"""What every request under ``/api/`` goes through around ninja's views.

* A body larger than ``VIGIE_API_MAX_BODY_BYTES`` answers 413; a write whose body is not JSON,
  415 (before anything reads it).
* A write (POST, PUT, PATCH) with an ``Idempotency-Key`` header: the first request with that
  key (per API key) runs and its answer is kept 24 hours; the same key with the same method,
  path and body replays that answer (``Idempotent-Replayed: true``); with anything else, or
  while the first is still running, 409.
* The key's ``RateLimit-*`` headers on every answer of an authenticated request.
* Any error answer that is not already ``application/problem+json`` (Django's 404 for an
  unknown path, 405, a crash) is turned into one: no HTML error page leaves the API.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api import problems
from api.auth import RATE_ATTR, request_key
from api.problems import ApiProblem, problem
from api.services import idempotency_abandon, idempotency_begin, idempotency_finish


API_PREFIX = "/api/"
WRITES = {"POST", "PUT", "PATCH"}
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Headers of a first answer that a replay gives back.
_REPLAYED_HEADERS = ("Location",)


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            response = self._answer(request)
        except ApiProblem as refusal:
            response = refusal.response()
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            problems.CONTENT_TYPE
        ):
            response = _as_problem(response)
        rate = getattr(request, RATE_ATTR, None)
        if rate is not None:
            for name, value in rate.headers().items():
                response[name] = value
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > settings.VIGIE_API_MAX_BODY_BYTES:
            raise ApiProblem(
                413,
                _("Le corps de la requête dépasse %(n)s octets.")
                % {"n": settings.VIGIE_API_MAX_BODY_BYTES},
            )
        if request.method not in WRITES:
            return self.get_response(request)
        if int(length) and request.content_type != "application/json":
            raise ApiProblem(415, _("Envoyez le corps en JSON (Content-Type: application/json)."))
        idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
        if idempotency_key is None:
            return self.get_response(request)
        return self._idempotent(request, idempotency_key)

    def _idempotent(self, request: HttpRequest, idempotency_key: str) -> HttpResponse:
        if not 1 <= len(idempotency_key) <= 255:
            raise ApiProblem(
                400, _("L'en-tête Idempotency-Key doit compter de 1 à 255 caractères.")
            )
        api_key = request_key(request)  # 401 or 429 before anything is claimed
        digest = hashlib.sha256(
            b"\n".join([str(request.method).encode(), request.path.encode(), request.body])
        ).hexdigest()
        claim = idempotency_begin(
            api_key=api_key, key=idempotency_key, digest=digest, now=timezone.now()
        )
        answer = claim.answer
        if not claim.first:
            if answer.digest != digest:
                raise ApiProblem(
                    409,
                    _(
                        "Cette clé d'idempotence a déjà servi pour une autre requête : "
                        "choisissez-en une nouvelle."
                    ),
                    kind="idempotency-key-reused",
                )
            if answer.status is None:
                raise ApiProblem(
                    409,
                    _("Une requête avec cette clé d'idempotence est en cours ; réessayez."),
                    kind="idempotency-key-in-progress",
                    headers={"Retry-After": "1"},
                )
            replay = HttpResponse(
                bytes(answer.body), status=answer.status, content_type=answer.content_type
            )
            for name, value in answer.headers.items():
                replay[name] = value
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency_abandon(answer=answer)
            raise
        if response.status_code >= 500 or response.status_code == 429 or response.streaming:
            idempotency_abandon(answer=answer)
            return response
        idempotency_finish(
            answer=answer,
            status=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
            headers={h: response[h] for h in _REPLAYED_HEADERS if response.has_header(h)},
        )
        return response


def _as_problem(response: HttpResponse) -> HttpResponse:
    """The same answer as a problem: its status and headers (Allow, the CSP...), not its
    body."""
    headers = {
        name: value
        for name, value in response.items()
        if name.lower() not in {"content-type", "content-length", "content-language"}
    }
    return problem(response.status_code, headers=headers)
