"""The body a receiver gets for an event: the same bytes at every attempt and every replay."""

import json

from webhooks.models import WebhookEvent


def event_body(event: WebhookEvent) -> bytes:
    document = {
        "type": event.type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
