"""Who is calling: the key a request presents (``Authorization: Bearer vgk_…``), its state,
its scopes and its rate. ``request_key`` does the work once per request (the middleware may
ask before ninja does, for an idempotent replay); ``KeyAuth(scope)`` is what each operation
declares, and what the OpenAPI document shows as its security."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja.security.http import HttpBearer

from admissions.infra.client_address import client_ip
from api.models import ApiKey
from api.problems import ApiProblem
from api.ratelimit import RateState, rate_consume
from api.selectors import api_key_for_secret
from api.services import api_key_touch


_KEY_ATTR = "vigie_api_key"
RATE_ATTR = "vigie_api_rate"
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="vigie"'}


def _bearer(request: HttpRequest) -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def request_key(request: HttpRequest) -> ApiKey:
    """The request's usable key, counted against its rate; raises ``ApiProblem`` (401, 429).
    Never logs the header: it holds the secret."""
    found = getattr(request, _KEY_ATTR, None)
    if isinstance(found, ApiProblem):
        raise found
    if found is not None:
        return found
    try:
        key = _authenticate(request)
    except ApiProblem as refusal:
        setattr(request, _KEY_ATTR, refusal)
        raise
    setattr(request, _KEY_ATTR, key)
    return key


def _authenticate(request: HttpRequest) -> ApiKey:
    secret = _bearer(request)
    if not secret:
        raise ApiProblem(
            401,
            _("Présentez une clé d'API : « Authorization: Bearer vgk_… »."),
            headers=_UNAUTHORIZED,
        )
    key = api_key_for_secret(secret)
    if key is None:
        raise ApiProblem(401, _("Cette clé d'API est inconnue."), headers=_UNAUTHORIZED)
    now = timezone.now()
    if key.revoked_at is not None:
        raise ApiProblem(401, _("Cette clé d'API a été révoquée."), headers=_UNAUTHORIZED)
    if key.expires_at <= now:
        raise ApiProblem(401, _("Cette clé d'API a expiré."), headers=_UNAUTHORIZED)
    rate: RateState = rate_consume(key.prefix)
    setattr(request, RATE_ATTR, rate)
    if not rate.allowed:
        raise ApiProblem(
            429,
            _("Limite de requêtes atteinte pour cette clé ; réessayez dans %(s)s s.")
            % {"s": rate.reset},
            headers={**rate.headers(), "Retry-After": str(rate.reset)},
        )
    api_key_touch(api_key=key, ip=client_ip(request), now=now)
    # The services take the acting user: the key's service account.
    request.user = key.user
    return key


class KeyAuth(HttpBearer):
    """An operation's security: a usable key holding ``scope``."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> Any:
        # Not HttpBearer's: it logs an unexpected Authorization header, which may hold a key.
        key = request_key(request)
        if self.scope not in key.scopes:
            raise ApiProblem(
                403,
                _("Cette clé d'API n'a pas le droit « %(scope)s ».") % {"scope": self.scope},
                kind="scope",
            )
        return key

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return request_key(request)
