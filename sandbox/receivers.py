"""Webhook receivers that fail on demand, for Vigie's webhooks to deliver to (tests, demos).

* ``POST /webhooks/receiver/<name>``: a delivery. Recorded with its ``webhook-*`` headers, its
  body and the answer given, which depends on the receiver's mode: ``200`` (accept), ``500``
  (answer 500), ``down`` (close the connection without a byte, as a server that is not there;
  nothing recorded), ``slow`` (record it, wait ``seconds``, then accept: a worker can be
  killed while it waits for the answer). A new receiver starts in mode ``200``.
* ``POST /webhooks/receiver/<name>/mode``: ``{"mode": "down" | "500" | "200" | "slow",
  "seconds": 3}`` (``seconds``: for ``slow``, at most 60).
* ``GET /webhooks/receiver/<name>``: ``{"mode": ..., "received": [{"headers", "body",
  "status", "at"}, ...]}`` in arrival order.
* ``DELETE /webhooks/receiver/<name>``: forget the receiver (``/_sandbox/reset`` forgets them
  all).

Vigie's signatures are not checked here (the sandbox knows no secret): the tests verify them
from what was recorded.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.httpkit import NoAnswer, Request, Response, empty_response, json_response


PREFIX = "/webhooks/receiver/"
MODES = ("200", "500", "down", "slow")
MAX_BODY = 1024 * 1024
MAX_RECEIVED = 10_000


@dataclass
class Box:
    mode: str = "200"
    slow_seconds: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)


class Receivers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[str, Box] = {}

    def reset(self) -> None:
        with self._lock:
            self._boxes.clear()

    def _box(self, name: str) -> Box:
        return self._boxes.setdefault(name, Box())

    def handle(self, req: Request) -> Response:
        name, _, action = req.path[len(PREFIX) :].strip("/").partition("/")
        if not name or len(name) > 100:
            return json_response(404, {"error": "not_found"})
        if action == "mode" and req.method == "POST":
            try:
                asked = req.body_json()
                mode = str(asked.get("mode", ""))
                seconds = min(max(float(asked.get("seconds", 0)), 0.0), 60.0)
            except (ValueError, AttributeError, TypeError):
                mode, seconds = "", 0.0
            if mode not in MODES:
                return json_response(400, {"error": "invalid_mode", "modes": list(MODES)})
            with self._lock:
                box = self._box(name)
                box.mode, box.slow_seconds = mode, seconds
            return json_response(200, {"mode": mode})
        if action:
            return json_response(404, {"error": "not_found"})
        if req.method == "GET":
            with self._lock:
                box = self._box(name)
                return json_response(200, {"mode": box.mode, "received": list(box.received)})
        if req.method == "DELETE":
            with self._lock:
                self._boxes.pop(name, None)
            return empty_response(204)
        if req.method == "POST":
            return self._deliver(name, req)
        return json_response(405, {"error": "method_not_allowed"})

    def _deliver(self, name: str, req: Request) -> Response:
        with self._lock:
            mode, wait = self._box(name).mode, self._box(name).slow_seconds
        if mode == "down":
            raise NoAnswer("receiver down")
        try:
            length = int(req.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = req.environ["wsgi.input"].read(min(length, MAX_BODY)) if length else b""
        status = 500 if mode == "500" else 200
        entry = {
            "headers": {k: v for k, v in req.headers.items() if k.startswith("webhook-")},
            "content_type": req.environ.get("CONTENT_TYPE", ""),
            "body": body.decode("utf-8", errors="replace"),
            "status": status,
            "at": time.time(),
        }
        with self._lock:
            received = self._box(name).received
            if len(received) < MAX_RECEIVED:
                received.append(entry)
        if mode == "slow":
            time.sleep(wait)
        if status == 200:
            return json_response(200, {"received": True})
        return json_response(500, {"error": "receiver failing on demand"})
