"""Endpoints, and reading back what a sandbox receiver got."""

import json
from typing import Any

from admissions.enums import Role
from admissions.models import Institution
from tests.factories import UserFactory
from webhooks.enums import EventType
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import webhook_endpoint_create


ALL_EVENTS = list(EventType.values)


def endpoint_for(
    institution: Institution, url: str, events: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """An endpoint of the institution, created by one of its admins; with its secret."""
    admin = UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN)
    created = webhook_endpoint_create(
        acting_user=admin, url=url, events=events if events is not None else ALL_EVENTS
    )
    return created.endpoint, created.secret


def bodies(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(entry["body"]) for entry in received]
