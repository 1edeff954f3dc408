"""The few HTTP pieces the sandbox needs on top of WSGI: a parsed request, a response, and the
exception that makes the server drop a connection without answering."""

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus


JSON = "application/json; charset=utf-8"
# Admin bodies are small JSON documents; anything larger is refused.
MAX_BODY = 1_000_000


class NoAnswer(Exception):
    """Raised by a handler to close the connection without sending any answer.

    ``reason`` is what the stats record instead of a status ("reset", "banned", ...). The
    connection stays open ``hold`` seconds first (the client waits for nothing), then closes:
    with a TCP reset (SO_LINGER 0) when ``hard_reset``, else with an orderly close."""

    def __init__(self, reason: str, *, hard_reset: bool = True, hold: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hard_reset = hard_reset
        self.hold = hold


def parse_query(qs: str) -> dict[str, list[str]]:
    """``parse_qs(qs, keep_blank_values=True)``, faster: every request goes through it."""
    query: dict[str, list[str]] = {}
    for part in qs.split("&"):
        if part:
            key, _, value = part.partition("=")
            query.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return query


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    client: str
    environ: dict[str, Any] = field(repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any], *, trust_forwarded_for: bool) -> "Request":
        raw_qs = environ.get("QUERY_STRING", "")
        # WSGI hands over the query as latin-1 decoded bytes; percent-escapes are UTF-8.
        qs = raw_qs.encode("latin-1", "replace").decode("utf-8", "replace")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        client = environ.get("REMOTE_ADDR", "") or "unknown"
        if trust_forwarded_for and headers.get("x-forwarded-for"):
            client = headers["x-forwarded-for"].split(",")[0].strip() or client
        return cls(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=environ.get("PATH_INFO", "") or "/",
            query=parse_query(qs),
            headers=headers,
            client=client,
            environ=environ,
        )

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def bearer(self) -> str | None:
        value = self.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    def body_json(self) -> Any:
        """The JSON body; raises ValueError when it is missing, too large or not JSON."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise ValueError("body too large")
        raw = self.environ["wsgi.input"].read(length) if length else b""
        return json.loads(raw or b"{}")

    def params_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The query parameters, order-independent: what makes two requests identical."""
        return tuple(sorted((k, tuple(v)) for k, v in self.query.items()))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON

    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        headers.append(("Content-Length", str(len(self.body))))
        return headers


def json_response(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, list(headers or []))


def text_json_response(status: int, text: str) -> Response:
    """A JSON body sent exactly as written (scenario payloads keep their formatting)."""
    return Response(status, text.encode())


def empty_response(status: int) -> Response:
    return Response(status, b"", content_type=None)
