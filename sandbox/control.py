"""The sandbox's own endpoints, under ``/_sandbox/``.

* ``GET  /_sandbox/health``: ``{"status": "ok", "population_ready": bool}``
* ``GET  /_sandbox/knobs``: every knob and its value
* ``POST /_sandbox/knobs``: a JSON object of knobs to change; answers every knob (400 with
  ``{"error": "invalid_knobs", "detail": ...}`` and nothing changed if one is wrong)
* ``GET  /_sandbox/stats``: what was served since start-up or the last reset
* ``POST /_sandbox/reset``: start-up knobs, zero stats, empty limit windows, no bans

Only loopback clients may call them, or any client that sends the ``X-Sandbox-Admin`` header
with the secret the server was started with (``--admin-secret`` or
``VIGIE_SANDBOX_ADMIN_SECRET``). The check uses the socket's address, never
``X-Forwarded-For``.
"""

import hmac
import ipaddress
import logging
import time

from sandbox.httpkit import Request, Response, json_response
from sandbox.knobs import KnobError
from sandbox.state import State


logger = logging.getLogger(__name__)
PREFIX = "/_sandbox"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def allowed(req: Request, secret: str) -> bool:
    if _is_loopback(req.environ.get("REMOTE_ADDR", "")):
        return True
    sent = req.header("x-sandbox-admin") or ""
    return bool(secret) and hmac.compare_digest(sent.encode(), secret.encode())


def handle(state: State, req: Request, *, secret: str = "") -> Response:
    if not allowed(req, secret):
        return json_response(403, {"error": "forbidden"})
    route = (req.method, req.path.rstrip("/"))
    if route == ("GET", f"{PREFIX}/health"):
        return json_response(200, {"status": "ok", "population_ready": state.people.ready})
    if route == ("GET", f"{PREFIX}/knobs"):
        return json_response(200, state.knobs.current.as_dict())
    if route == ("POST", f"{PREFIX}/knobs"):
        try:
            changes = req.body_json()
            knobs = state.knobs.update(changes)
        except (ValueError, KnobError) as exc:
            return json_response(400, {"error": "invalid_knobs", "detail": str(exc)})
        if "seed" in changes:
            state.reseed()
        logger.info("sandbox knobs changed: %s", ", ".join(sorted(changes)))
        return json_response(200, knobs.as_dict())
    if route == ("GET", f"{PREFIX}/stats"):
        return json_response(200, state.stats.snapshot(state.bans.active(time.time())))
    if route == ("POST", f"{PREFIX}/reset"):
        state.reset()
        return json_response(200, {"status": "reset"})
    return json_response(404, {"error": "not_found"})
