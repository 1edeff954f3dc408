"""The institution admin's webhook pages: create (the secret shown once, stored encrypted),
the endpoint's page with its deliveries and attempts, replay, enable again, delete; audited."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from admissions.enums import AuditAction, Role
from admissions.models import AuditEvent
from tests.factories import InstitutionFactory, UserFactory
from tests.webhooks.helpers import endpoint_for
from webhooks.enums import DeliveryState, EventType
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import webhook_delivery_send
from webhooks.services.events import webhook_event_emit


pytestmark = pytest.mark.django_db


@pytest.fixture
def institution():
    return InstitutionFactory()


@pytest.fixture
def admin(institution):
    return UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN)


@pytest.fixture
def page(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_create_shows_the_secret_once_and_stores_it_encrypted(page, admin):
    response = page.post(
        reverse("webhook_endpoints"),
        {
            "url": "https://si.exemple.fr/vigie",
            "description": "SI scolarité",
            "events": ["verdict.changed", "batch.finished"],
        },
    )
    assert response.status_code == 200
    found = re.search(r'value="(whsec_[A-Za-z0-9+/=]{44})"', response.content.decode())
    assert found
    secret = found.group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret
    assert endpoint.events == ["batch.finished", "verdict.changed"]
    assert endpoint.institution_id == admin.institution_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint")
        [(stored,)] = cursor.fetchall()
    assert secret not in stored
    event = AuditEvent.objects.get(action=AuditAction.CREATED, object_type="webhookendpoint")
    assert event.actor == admin
    assert event.details["url"] == "https://si.exemple.fr/vigie"
    assert secret not in str(event.details)
    listing = page.get(reverse("webhook_endpoints")).content.decode()
    assert "https://si.exemple.fr/vigie" in listing
    assert secret not in listing
    assert secret not in page.get(reverse("webhook_endpoint", args=[endpoint.pk])).content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://si.exemple.fr/vigie", "https://"),
        ("https://moi:secret@si.exemple.fr/", "identifiant"),
        ("pas une adresse", "adresse web complète"),
    ],
)
def test_a_wrong_url_or_no_event_is_refused(page, url, message):
    response = page.post(reverse("webhook_endpoints"), {"url": url, "events": []})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Ce champ est obligatoire" in html  # the events
    assert not WebhookEndpoint.objects.exists()


def test_the_endpoint_page_shows_deliveries_and_attempts_and_replays(
    page, admin, institution, sandbox_settings
):
    endpoint, _ = endpoint_for(institution, sandbox_settings.receiver_url("pages"))
    sandbox_settings.receiver_mode("pages", "500")
    event = webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 3}
    )
    delivery = WebhookDelivery.objects.get(event=event)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    html = page.get(reverse("webhook_endpoint", args=[endpoint.pk])).content.decode()
    assert event.message_id in html
    assert "batch.finished" in html
    assert "(500)" in html
    assert "receiver failing on demand" in html  # the response snippet
    assert "Chaque envoi échoue depuis" in html

    sandbox_settings.receiver_mode("pages", "200")
    response = page.post(reverse("webhook_delivery_replay", args=[endpoint.pk, delivery.pk]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.failure_count == 0
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"
    replayed = AuditEvent.objects.get(
        object_type="webhookendpoint", details__change="delivery_replayed"
    )
    assert replayed.actor == admin
    assert replayed.details["event"] == event.message_id
    # A delivered event can be replayed too: same id, the receiver may drop it.
    page.post(reverse("webhook_delivery_replay", args=[endpoint.pk, delivery.pk]))
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"
    received = sandbox_settings.receiver_received("pages")
    assert [r["status"] for r in received] == [500, 200, 200]
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 3


def test_a_disabled_endpoint_is_enabled_again_and_its_waiting_deliveries_leave(page, institution):
    endpoint, _ = endpoint_for(institution, "https://si.exemple.fr/vigie")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="failing")
    event = webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 3}
    )
    delivery = WebhookDelivery.objects.get(event=event)
    html = page.get(reverse("webhook_endpoint", args=[endpoint.pk])).content.decode()
    assert 'id="webhook-disabled"' in html
    assert 'id="webhook-replay-' not in html  # enable first
    response = page.post(reverse("webhook_delivery_replay", args=[endpoint.pk, delivery.pk]))
    assert response.status_code == 302
    assert "Réactivez" in page.get(response.url).content.decode()

    response = page.post(reverse("webhook_endpoint_enable", args=[endpoint.pk]))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.disabled_reason == ""
    delivery.refresh_from_db()
    assert delivery.enqueued_at is None  # for the sweeper's next tick
    assert AuditEvent.objects.filter(
        object_type="webhookendpoint", details__change="enabled"
    ).exists()


def test_delete_removes_the_endpoint_and_its_deliveries(page, institution):
    endpoint, _ = endpoint_for(institution, "https://si.exemple.fr/vigie")
    webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 3}
    )
    assert page.get(reverse("webhook_endpoint_delete", args=[endpoint.pk])).status_code == 200
    response = page.post(reverse("webhook_endpoint_delete", args=[endpoint.pk]))
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    event = AuditEvent.objects.get(object_type="webhookendpoint", details__change="deleted")
    assert event.object_id == str(endpoint.pk)


def test_a_delivery_of_another_endpoint_is_not_found(page, institution):
    """The replay URL pairs the endpoint and the delivery: ours with another institution's
    delivery answers 404 and sends nothing."""
    ours, _ = endpoint_for(institution, "https://si.exemple.fr/vigie")
    other = InstitutionFactory()
    endpoint_for(other, "https://autre.exemple.fr/vigie")
    event = webhook_event_emit(
        institution_id=other.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 3}
    )
    theirs = WebhookDelivery.objects.get(event=event)
    WebhookDelivery.objects.filter(pk=theirs.pk).update(state=DeliveryState.FAILED)
    response = page.post(reverse("webhook_delivery_replay", args=[ours.pk, theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == DeliveryState.FAILED


def test_the_settings_page_links_the_webhooks(page):
    html = page.get(reverse("institution_settings")).content.decode()
    assert reverse("webhook_endpoints") in html


def test_the_endpoint_pages_query_count_does_not_grow_with_deliveries(page, institution):
    from django.test.utils import CaptureQueriesContext

    endpoint, _ = endpoint_for(institution, "https://si.exemple.fr/vigie")

    def add(n: int) -> None:
        from django.utils import timezone

        for i in range(n):
            event = webhook_event_emit(
                institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": i}
            )
            delivery = WebhookDelivery.objects.get(event=event)
            for _ in range(2):
                DeliveryAttempt.objects.create(
                    delivery=delivery, started_at=timezone.now(), outcome="http_error"
                )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert page.get(reverse("webhook_endpoint", args=[endpoint.pk])).status_code == 200
        return len(captured)

    add(2)
    few = queries()
    add(20)
    assert queries() == few


def test_the_back_office_lists_endpoints_and_deliveries_never_the_secret(institution):
    endpoint, secret = endpoint_for(institution, "https://si.exemple.fr/vigie")
    webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 3}
    )
    staff = Client()
    staff.force_login(UserFactory(backoffice=True))
    listing = staff.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert listing.status_code == 200
    assert "https://si.exemple.fr/vigie" in listing.content.decode()
    page = staff.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert staff.get(reverse("admin:webhooks_webhookendpoint_add")).status_code == 403
    deliveries = staff.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert deliveries.status_code == 200
    assert "batch.finished" in deliveries.content.decode()
