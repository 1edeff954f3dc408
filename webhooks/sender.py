"""One HTTP POST to a receiver, and what came of it. No redirect is followed (a 3xx is a
failure: the admin registers the final URL), the timeout is short, and only the start of the
answer is read."""

import time
from dataclasses import dataclass

import requests

from webhooks.enums import AttemptOutcome


RESPONSE_SNIPPET = 500
USER_AGENT = "Vigie-Webhooks/1"


@dataclass(frozen=True)
class SendResult:
    outcome: AttemptOutcome
    http_status: int | None
    duration_ms: int
    snippet: str

    @property
    def delivered(self) -> bool:
        return self.outcome == AttemptOutcome.SUCCESS


def post(
    *, session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> SendResult:
    sent = {
        **headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    started = time.monotonic()
    try:
        with session.post(
            url, data=body, headers=sent, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            raw = next(response.iter_content(RESPONSE_SNIPPET * 4), b"")
            status = response.status_code
    except requests.Timeout:
        return SendResult(AttemptOutcome.TIMEOUT, None, _since(started), "timeout")
    except requests.RequestException as exc:
        return SendResult(
            AttemptOutcome.CONNECTION_ERROR,
            None,
            _since(started),
            type(exc).__name__[:RESPONSE_SNIPPET],
        )
    snippet = raw.decode("utf-8", errors="replace")[:RESPONSE_SNIPPET]
    outcome = AttemptOutcome.SUCCESS if 200 <= status < 300 else AttemptOutcome.HTTP_ERROR
    return SendResult(outcome, status, _since(started), snippet)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
