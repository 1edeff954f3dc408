"""Registre de preuve de covoiturage: ``GET /{version}/certificates/{uuid}``.

As the real code answers (docs/api/covoiturage.md): the JSON-RPC-wrapped result
``{"jsonrpc": "2.0", "id": 1, "result": {"meta": null, "data": {...}}}``; 404 and 400 as
JSON-RPC errors (``-32504`` "Not found", ``-32602`` "Invalid params"); a version prefix that is
not 3.2 or 3.3 (``/v3``, ``/v3.2``, ``/v3.3``) → 404 with an empty body; 100 requests per 5
minutes per client IP (express-rate-limit: ``RateLimit-*`` with ``RateLimit-Reset`` in seconds,
``Retry-After`` and ``{"error": {"code": 429, ...}}`` on 429). The route is public; when the
``covoiturage_tokens`` knob lists tokens, a request that sends another Authorization header is
refused with 401 ``-32501``.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sandbox import scenarios
from sandbox.httpkit import Request, Response, empty_response, json_response
from sandbox.limits import Rule, WindowState
from sandbox.population import CovoiturageOutcome, Person
from sandbox.state import Context


_PATH = re.compile(r"^/(v[^/]+)/certificates/([^/]*)/?$")
_VERSION = re.compile(r"^v3(\.[23](\.\d+)?)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_OPERATORS = (
    (1, "BlaBlaCar Daily"),
    (2, "Karos"),
    (3, "Klaxit"),
    (4, "Mobicoop"),
)
_NAMESPACE = uuid.UUID("c0f1d2e3-4b5a-4c6d-8e7f-9a0b1c2d3e4f")


def rpc_error(status: int, code: int, message: str, data: str) -> Response:
    body = {"id": 1, "jsonrpc": "2.0", "error": {"data": data, "code": code, "message": message}}
    return json_response(status, body)


def not_found(value: str) -> Response:
    return rpc_error(404, -32504, "Not found", f"Certificate not found: null - {value}")


def rpc_result(data: dict[str, Any]) -> Response:
    return json_response(200, {"jsonrpc": "2.0", "id": 1, "result": {"meta": None, "data": data}})


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0100")


@cache
def _stamps(year: int) -> tuple[str, str, str, tuple[str, ...]]:
    """Start, end, creation and trip dates of a year's attestations (formatted once)."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC)
    trips = tuple(_stamp(start + timedelta(days=30 * m + 3)) for m in range(4))
    return _stamp(start), _stamp(end), _stamp(end + timedelta(days=20)), trips


def person_document(p: Person) -> dict[str, Any]:
    """An attestation for person ``p``: a year of trips, deterministic in ``p.index``."""
    i = p.index
    expired = p.covoiturage == CovoiturageOutcome.EXPIRED
    start_at, end_at, created_at, trip_dates = _stamps(2024 if expired else 2025)
    operator_id, operator_name = _OPERATORS[i % len(_OPERATORS)]
    trips = 4 + i % 40
    distance = trips * (8000 + (i % 17) * 1000)

    def side(kind: str, share: int) -> dict[str, Any]:
        n = trips * share // 4
        week = n * 3 // 4
        amount = n * (150 + i % 50)
        meters = distance * share // 4
        return {
            "total": {
                "trips": n,
                "week_trips": week,
                "weekend_trips": n - week,
                "distance": meters,
                "amount": amount,
            },
            "trips": [
                {
                    "type": kind,
                    "datetime": trip_dates[m],
                    "trips": n // 4,
                    "distance": meters // 4,
                    "amount": amount // 4,
                }
                for m in range(4)
                if n
            ],
        }

    return {
        "type": "expired" if expired else "ok",
        "uuid": p.covoiturage_uuid,
        "tz": "Europe/Paris",
        "start_at": start_at,
        "end_at": end_at,
        "created_at": created_at,
        "identity": {"uuid": str(uuid.uuid5(_NAMESPACE, f"identity:{i}"))},
        "operator": {
            "_id": operator_id,
            "uuid": str(uuid.uuid5(_NAMESPACE, f"operator:{operator_id}")),
            "name": operator_name,
        },
        "positions": [],
        "driver": side("driver", 3 if i % 2 else 0),
        "passenger": side("passenger", 4 if i % 2 == 0 else 1),
    }


def rate_limit_headers(window: WindowState, now: float) -> list[tuple[str, str]]:
    if not window.limit:
        return []
    return [
        ("RateLimit-Limit", str(window.limit)),
        ("RateLimit-Remaining", str(window.remaining)),
        ("RateLimit-Reset", str(max(0, round(window.reset_at - now)))),
    ]


class Covoiturage:
    name = "covoiturage"
    bans = False
    outage_upstream = False

    def endpoint_of(self, method: str, path: str) -> str:
        if method in ("GET", "HEAD") and _PATH.match(path):
            return "certificate"
        return "unknown"

    def token_label(self, req: Request) -> str | None:
        return None

    def outage_response(self, ctx: Context) -> Response:
        return json_response(503, {"code": 503, "error": "Service Unavailable"})  # [V]

    def handle(self, ctx: Context) -> Response:
        match = _PATH.match(ctx.request.path)
        if ctx.endpoint != "certificate" or not match or not _VERSION.match(match.group(1)):
            return empty_response(404)
        knobs = ctx.knobs
        rule = Rule(
            ("covoiturage", ctx.request.client), knobs.covoiturage_limit, knobs.covoiturage_window
        )
        refused, windows = ctx.limit([rule])
        headers = rate_limit_headers(windows[0], ctx.now)
        if refused:
            headers.append(("Retry-After", str(refused.retry_after)))
            body = {"error": {"code": 429, "message": "Too many requests"}}
            return json_response(429, body, headers)
        response = self._certificate(ctx, match.group(2))
        response.headers.extend(headers)
        return response

    def _certificate(self, ctx: Context, value: str) -> Response:
        if knobs_tokens := ctx.knobs.covoiturage_tokens:
            sent = ctx.request.header("authorization")
            if sent is not None and ctx.request.bearer() not in knobs_tokens:
                return rpc_error(401, -32501, "Unauthorized Error", "Unauthorized application")
        if not _UUID.match(value):
            return rpc_error(400, -32602, "Invalid params", 'data/uuid must match format "uuid"')
        fault = ctx.simulate_upstream()
        if fault:
            status = int(fault.partition("/")[0])
            if status == 503:
                return self.outage_response(ctx)
            return rpc_error(status, -32000, "Server error", "Internal error")  # [guessed]
        value = value.lower()
        for case in scenarios.load("covoiturage", "certificates"):
            if str(case.params.get("uuid", "")).lower() == value:
                return Response(case.status, case.payload.encode())
        found = ctx.state.people.by_covoiturage_uuid(value)
        if found is None or found.covoiturage == CovoiturageOutcome.UNKNOWN:
            return not_found(value)
        return rpc_result(person_document(found))
