"""Registre de preuve de covoiturage (RPC): verify an operator's carpooling attestation.

``verify(session, query: CovoiturageQuery, config) -> ProviderResult`` with a
:class:`CovoiturageRecord`, or ``found=False`` when the attestation is unknown.

The contract: docs/api/covoiturage.md. ``GET {base}/certificates/{uuid}`` where the base URL
carries the API version (``https://api.covoiturage.beta.gouv.fr/v3.2``) [V: RPC specs
``servers``]. The spec requires a bearer token but the code only checks one when it is sent and
the public check page sends none [I: docs/api/covoiturage.md §Authentication], so the token is
optional: sent when configured.

**Deprecated upstream** ("Cette API sera dépréciée en v3.2 et ne sera pas remplacée"; removed
from the docs on 2025-03-27, still in the code in August 2025
[V: docs/api/covoiturage.md §Deprecation]): expect it to go away; an empty base URL switches it
off (``ProviderNotConfigured``).

Answers: the spec shows the bare certificate; the code wraps it in JSON-RPC,
``{"jsonrpc", "id", "result": {"meta", "data": {...}}}`` [I from code]. Both are parsed.
``type`` is ``ok`` or ``expired``.

Statuses [V/I: docs/api/covoiturage.md §Errors, docs/api/covoiturage.md §Rate limits]: 404
with JSON-RPC error ``-32504`` or ``{"code": 404, "error": "Not found"}`` -> not found; 404 with
an empty body (unsupported version prefix) -> rejected (the base URL is wrong); 400 ``-32602``
invalid params, 401 ``-32501``, 403 ``-32503`` -> rejected; 429 ``{"error": {"code": 429}}`` ->
rate-limited (``Retry-After`` or ``RateLimit-Reset`` when sent, express-rate-limit defaults [I],
else a minute); 503 maintenance ``{"code": 503}`` and other 5xx -> unavailable. A JSON-RPC error
inside a 200 is mapped by its code the same way.
"""

import re
from typing import Any

import requests

from verifications.enums import Source
from verifications.providers import coerce, http
from verifications.providers.base import (
    INVALID_QUERY,
    ROUTE_NOT_FOUND,
    CovoiturageQuery,
    CovoiturageRecord,
    ProviderConfig,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)


SOURCE = Source.COVOITURAGE
ROUTE = "/certificates/{uuid}"

# JSON-RPC error codes of the RPC's ilos framework (docs/api/covoiturage.md §Errors).
RPC_NOT_FOUND = "-32504"
RPC_INVALID_PARAMS = "-32602"
RPC_UNAUTHORIZED = "-32501"
RPC_FORBIDDEN = "-32503"
# The HTTP status the RPC pairs with each JSON-RPC code, for errors that arrive with a 200.
_RPC_STATUS = {
    RPC_NOT_FOUND: 404,
    RPC_INVALID_PARAMS: 400,
    RPC_UNAUTHORIZED: 401,
    RPC_FORBIDDEN: 403,
    "429": 429,
}

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def verify(
    session: requests.Session, query: CovoiturageQuery, config: ProviderConfig
) -> ProviderResult:
    if not config.configured:
        raise ProviderNotConfigured("no base URL", setting="base_url", source=SOURCE)
    uuid = (query.uuid or "").strip().lower()
    if not _UUID.match(uuid):
        # The API would answer 400 -32602; a malformed UUID is never sent.
        raise ProviderRejected("invalid query: uuid", code=INVALID_QUERY, source=SOURCE)
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    answer = http.get(
        session, config, ROUTE.format(uuid=uuid), source=SOURCE, route=ROUTE, headers=headers
    )
    return parse_answer(answer)


def parse_answer(answer: http.Answer) -> ProviderResult:
    payload = coerce.as_dict(answer.payload)
    code = _error_code(payload)
    if answer.status == 200 and code:
        # A JSON-RPC error with a 200 status: map it as its HTTP twin.
        answer = _with_status(answer, _RPC_STATUS.get(code, 500))
    if answer.status == 200:
        certificate = _certificate(payload)
        if certificate is None:
            raise ProviderUnavailable(
                "unexpected body", call=answer.call_with(body="unexpected"), source=SOURCE
            )
        wrapped = "result" in payload
        return ProviderResult(
            source=SOURCE,
            found=True,
            data=parse_record(certificate),
            call=answer.call_with(format="jsonrpc" if wrapped else "bare"),
        )
    if answer.status == 404:
        if code in {RPC_NOT_FOUND, "404"}:
            return ProviderResult(
                source=SOURCE,
                found=False,
                data=None,
                call=answer.call_with(provider_error_code=code),
            )
        # Empty body: no such route (unsupported version prefix in the base URL) [I from code].
        raise ProviderRejected(
            "route not found",
            code=ROUTE_NOT_FOUND,
            call=answer.call_with(provider_error_code=code),
            source=SOURCE,
        )
    http.raise_for_status(answer, source=SOURCE, code=code)
    raise ProviderUnavailable(
        f"unexpected status {answer.status}", call=answer.call_with(), source=SOURCE
    )


def parse_record(certificate: dict[str, Any]) -> CovoiturageRecord:
    operator = coerce.as_dict(certificate.get("operator"))
    kind = coerce.as_str(certificate.get("type"))
    uuid = coerce.as_str(certificate.get("uuid"))
    return CovoiturageRecord(
        uuid=uuid.lower() if uuid else None,
        type=kind.lower() if kind else None,
        start_at=coerce.as_datetime(certificate.get("start_at")),
        end_at=coerce.as_datetime(certificate.get("end_at")),
        created_at=coerce.as_datetime(certificate.get("created_at")),
        operator_name=coerce.as_str(operator.get("name")),
        keys=tuple(sorted(certificate)),
    )


def _certificate(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The certificate object, bare or under ``result.data`` (or ``result``, tolerantly)."""
    if "result" in payload:
        result = coerce.as_dict(payload.get("result"))
        data = result.get("data")
        candidate = data if isinstance(data, dict) else result
    else:
        candidate = payload
    if "type" in candidate or "uuid" in candidate:
        return candidate
    return None


def _error_code(payload: dict[str, Any]) -> str:
    """JSON-RPC ``error.code``, or the top-level ``code`` of the non-RPC error bodies."""
    error = payload.get("error")
    if isinstance(error, dict):
        return coerce.as_str(error.get("code")) or ""
    if "result" not in payload and "type" not in payload:
        return coerce.as_str(payload.get("code")) or ""
    return ""


def _with_status(answer: http.Answer, status: int) -> http.Answer:
    """The same answer read with another status (the HTTP one is kept in the call info)."""
    call = answer.call_with(rpc_error_status=status)
    return http.Answer(
        status=status,
        headers=answer.headers,
        payload=answer.payload,
        is_json=answer.is_json,
        call=call,
    )
