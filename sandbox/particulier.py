"""API Particulier: MEN scolarités (v4 and v3, legacy v2), introspection and pings.

Order of checks for ``/v{3,4}/men/scolarites/identite`` (docs/api/api-particulier.md): rate limits
(per client IP, per token, per endpoint and token; a refused request gets 429 ``00429`` with
``Retry-After``), then the token (401 ``00101``/``00103``/``00105``, 403 ``00100``), then the
parameters (422), then "identical request in flight" (409 ``00015``), then the provider's part
(latency and injected faults), then the answer: a scenario case, else the generated population,
else 404 ``30003``. Every answer carries ``RateLimit-Limit/Remaining/Reset`` for the endpoint.
"""

import json
import math
import re
import time
import uuid
from datetime import date
from typing import Any

from sandbox import particulier_legacy, scolarite
from sandbox.httpkit import Request, Response, json_response
from sandbox.limits import Rule, WindowState
from sandbox.particulier_errors import error, error_response, injected
from sandbox.particulier_tokens import TokenInfo, resolve_token
from sandbox.state import Context
from sandbox.tokens import MEN_SCOPES, decode_payload, label


ROUTES = {
    "/v4/men/scolarites/identite": "scolarites_v4",
    "/v3/men/scolarites/identite": "scolarites_v3",
    "/api/v2/scolarites": "scolarites_v2",
    "/api/introspect": "introspect",
    "/api/pings": "pings",
    "/api/men_scolarite/ping": "ping_men_scolarite",
}
_SCOPED_KEYS = {key: scope for scope, keys in MEN_SCOPES.items() for key in keys}
_UAI = re.compile(r"^\d{7}\w$")
_SCHOOL_YEAR = re.compile(r"^(\d{4})(?:-(\d{4}))?$")
_DATE_PARTS = ("anneeDateNaissance", "moisDateNaissance", "jourDateNaissance")


def mask(data: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
    """Drop the keys whose scope the token lacks, as production does (staging does not)."""
    return {k: v for k, v in data.items() if k not in _SCOPED_KEYS or _SCOPED_KEYS[k] in scopes}


def is_siret(value: str) -> bool:
    """14 digits with a valid Luhn key (La Poste's establishments: digit sum multiple of 5)."""
    if len(value) != 14 or not value.isdigit():
        return False
    if value.startswith("356000000"):
        return sum(int(c) for c in value) % 5 == 0
    total = 0
    for position, char in enumerate(reversed(value)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _invalid(parameter: str) -> dict[str, Any]:
    return error("00366", source={"parameter": parameter})


def validate(req: Request, version: str) -> tuple[list[dict[str, Any]], scolarite.Query | None]:
    """The 422 errors of a v3/v4 request, or the parsed query."""
    errors = []
    recipient = (req.arg("recipient") or "").strip()
    if not recipient:
        errors.append(error("00203"))
    elif not is_siret(recipient):
        errors.append(error("00210"))
    nom = (req.arg("nomNaissance") or "").strip()
    if not nom:
        errors.append(_invalid("nomNaissance"))
    prenoms = req.args("prenoms[]")
    if not prenoms or len(prenoms) > 3 or any(not p.strip() for p in prenoms):
        errors.append(_invalid("prenoms"))
    sexe = req.arg("sexeEtatCivil")
    if not sexe:
        errors.append(error("00427"))
    elif sexe not in ("M", "F"):
        errors.append(_invalid("sexeEtatCivil"))
    birth_date = None
    parts = [req.arg(name) or "" for name in _DATE_PARTS]
    if all(p.isdigit() for p in parts):
        try:
            birth_date = date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            birth_date = None
    if birth_date is None:
        errors.extend(_invalid(name) for name in _DATE_PARTS)
    year_match = _SCHOOL_YEAR.match(req.arg("anneeScolaire") or "")
    if not year_match:
        errors.append(_invalid("anneeScolaire"))
    uai = (req.arg("codeEtablissement") or "").strip()
    departments = [d.strip().upper().zfill(3) for d in req.args("codesBcnDepartements[]")]
    regions = [r.strip() for r in req.args("codesBcnRegions[]")]
    if uai and (departments or regions):
        errors.append(error("00419"))
    elif uai and not _UAI.match(uai):
        errors.append(_invalid("codeEtablissement"))
    elif not uai and (version == "v3" or not (departments or regions)):
        # v3 requires the UAI; v4 one of the three perimeters [guessed code].
        errors.append(_invalid("codeEtablissement"))
    elif departments and regions:
        errors.append(_invalid("codesBcnRegions"))  # [guessed] only one perimeter at a time
    if req.arg("degreEtablissement") not in (None, "1D", "2D"):
        errors.append(_invalid("degreEtablissement"))
    if errors or birth_date is None or year_match is None or sexe is None:
        return errors, None
    return [], scolarite.Query(
        nom=nom,
        prenoms=tuple(prenoms),
        sexe=sexe,
        birth_date=birth_date,
        uai=uai.upper(),
        departments=tuple(departments),
        any_establishment=bool(regions),
        year=int(year_match.group(1)),
    )


def rate_limit_headers(window: WindowState) -> list[tuple[str, str]]:
    if not window.limit:
        return []  # the endpoint limit is switched off
    return [
        ("RateLimit-Limit", str(window.limit)),
        ("RateLimit-Remaining", str(window.remaining)),
        ("RateLimit-Reset", str(math.ceil(window.reset_at))),
    ]


class Particulier:
    name = "particulier"
    bans = True
    outage_upstream = True

    def endpoint_of(self, method: str, path: str) -> str:
        if method not in ("GET", "HEAD"):
            return "unknown"
        return ROUTES.get(path.rstrip("/") or "/", "unknown")

    def token_label(self, req: Request) -> str | None:
        raw = req.bearer() or req.header("x-api-key")
        return label(raw) if raw else None

    def outage_response(self, ctx: Context) -> Response:
        if ctx.endpoint in ("pings", "ping_men_scolarite"):
            return json_response(503, {"status": "unavailable"})  # [guessed] ping body
        return error_response("30001")

    def handle(self, ctx: Context) -> Response:
        response = self._route(ctx)
        # Rails' request id, which Vigie keeps on each attempt.
        response.headers.append(("X-Request-Id", str(uuid.uuid4())))
        return response

    def _route(self, ctx: Context) -> Response:
        endpoint = ctx.endpoint
        if ctx.faults.outage and endpoint in ("pings", "ping_men_scolarite"):
            return self.outage_response(ctx)  # the routes behind the gateway see it upstream
        if endpoint in ("scolarites_v4", "scolarites_v3"):
            return self._scolarites(ctx, endpoint[-2:])
        if endpoint == "scolarites_v2":
            return self._limited(ctx, raw_token=ctx.request.header("x-api-key"), v2=True)
        if endpoint == "introspect":
            return self._introspect(ctx)
        if endpoint == "ping_men_scolarite":
            return json_response(200, {"status": "ok"})  # [guessed] ping body
        if endpoint == "pings":
            return json_response(200, {"men_scolarite": "/api/men_scolarite/ping"})  # [guessed]
        return error_response("00404")

    def _scolarites(self, ctx: Context, version: str) -> Response:
        return self._limited(ctx, raw_token=ctx.request.bearer(), v2=False, version=version)

    def _limited(
        self, ctx: Context, *, raw_token: str | None, v2: bool, version: str = "v2"
    ) -> Response:
        """The gateway's part, common to every versioned route: limits, token, then the
        route's own handling; RateLimit headers on whatever comes out."""
        req, knobs = ctx.request, ctx.knobs
        info = resolve_token(raw_token, ctx)
        who = info.label if info else f"ip:{req.client}"
        rules = [Rule(("ip", req.client), knobs.particulier_ip_limit, knobs.particulier_ip_window)]
        if info:
            rules.append(
                Rule(("token", who), knobs.particulier_token_limit, knobs.particulier_token_window)
            )
        endpoint_limit = (knobs.particulier_endpoint_limits or {}).get(
            ctx.endpoint, knobs.particulier_endpoint_limit
        )
        rules.append(
            Rule(("endpoint", who, ctx.endpoint), endpoint_limit, knobs.particulier_endpoint_window)
        )
        refused, windows = ctx.limit(rules)
        headers = rate_limit_headers(windows[-1])
        if refused:
            return self._too_many(ctx, refused.retry_after, headers, v2=v2)
        if v2:
            response = particulier_legacy.handle(ctx, info)
        else:
            response = self._identite(ctx, info, version)
        if response.status == 429:
            self._note_429(ctx, response)
        response.headers.extend(headers)
        return response

    def _too_many(
        self, ctx: Context, retry_after: int, headers: list[tuple[str, str]], *, v2: bool
    ) -> Response:
        ctx.state.bans.note_refusal(ctx.request.client, time.time() + retry_after)
        headers = [*headers, ("Retry-After", str(retry_after))]
        if v2:
            return particulier_legacy.too_many(headers)
        return error_response("00429", headers=headers)

    def _note_429(self, ctx: Context, response: Response) -> None:
        retry_after = dict(response.headers).get("Retry-After", "1")
        ctx.state.bans.note_refusal(ctx.request.client, time.time() + int(retry_after))

    def _identite(self, ctx: Context, info: TokenInfo | None, version: str) -> Response:
        if info is None:
            return error_response("00101")
        if info.error:
            return error_response(info.error)
        if not info.scopes & MEN_SCOPES.keys():
            return error_response("00100")
        errors, query = validate(ctx.request, version)
        if errors or query is None:
            return json_response(422, {"errors": errors})
        key = (info.label, ctx.endpoint, ctx.request.params_key())
        guard = ctx.knobs.particulier_conflicts
        if guard and not ctx.state.in_flight.acquire(key):
            return error_response("00015")
        try:
            fault = ctx.simulate_upstream()
            if fault:
                return self.injected_error(fault)
            status, body = scolarite.answer(ctx, query)
        finally:
            if guard:
                ctx.state.in_flight.release(key)
        if status == 200 and ctx.knobs.scope_masking and not info.scopes >= MEN_SCOPES.keys():
            document = json.loads(body) if isinstance(body, str) else body
            document["data"] = mask(document["data"], info.scopes)
            body = document
        if isinstance(body, str):
            return Response(status, body.encode())
        return json_response(status, body)

    def injected_error(self, key: str) -> Response:
        if key == "outage":
            return error_response("30001")  # the ministry's service is down
        status = int(key.partition("/")[0])
        code = injected(key)
        headers = [("Retry-After", "1")] if status == 429 else []
        return json_response(status, {"errors": [error(code)]}, headers)

    def _introspect(self, ctx: Context) -> Response:
        raw = ctx.request.arg("token") or ctx.request.bearer()
        info = resolve_token(raw, ctx)
        if info is None:
            return error_response("00101")
        if info.error:
            return error_response(info.error)
        payload = decode_payload(raw or "") or {}
        return json_response(
            200, {"_id": payload.get("jti"), "name": None, "scopes": sorted(info.scopes)}
        )
