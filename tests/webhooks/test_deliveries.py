"""One attempt at a time, in this process, over real HTTP to the sandbox's receivers: what is
sent (signed, the same body and id at every attempt), what is recorded, when the next attempt
is due, giving up, disabling an endpoint after a day of failures, the sweeper, the lease."""

import itertools
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from admissions.enums import AuditAction, Role
from admissions.models import AuditEvent
from tests.factories import InstitutionFactory, UserFactory
from tests.webhooks.helpers import endpoint_for
from webhooks.enums import AttemptOutcome, DeliveryState, EventType
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import (
    webhook_deliveries_dispatch,
    webhook_delivery_send,
)
from webhooks.services.events import webhook_event_emit


pytestmark = pytest.mark.django_db

_names = itertools.count(1)


@pytest.fixture
def receiver(sandbox_settings):
    name = f"r{next(_names)}"
    return name, sandbox_settings.receiver_url(name)


@pytest.fixture
def institution():
    return InstitutionFactory()


def emit(institution, batch_id: int = 7) -> WebhookDelivery:
    event = webhook_event_emit(
        institution_id=institution.pk,
        type=EventType.BATCH_FINISHED,
        data={"batch_id": batch_id, "verdicts": {"confirmed": 2}},
    )
    assert event is not None
    return WebhookDelivery.objects.get(event=event)


def due_now(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_delivery_is_signed_recorded_and_done(sandbox_settings, receiver, institution):
    name, url = receiver
    _endpoint, secret = endpoint_for(institution, url)
    delivery = emit(institution)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"

    [got] = sandbox_settings.receiver_received(name)
    assert got["content_type"] == "application/json"
    payload = Webhook(secret).verify(got["body"].encode(), got["headers"])
    assert payload["type"] == "batch.finished"
    assert payload["data"] == {"batch_id": 7, "verdicts": {"confirmed": 2}}
    assert got["headers"]["webhook-id"] == delivery.event.message_id
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempt_count == 1
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == AttemptOutcome.SUCCESS
    assert attempt.http_status == 200
    assert attempt.response_snippet == '{"received":true}'
    # Nothing more to do: a second task for it finds nothing.
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "skipped"
    assert len(sandbox_settings.receiver_received(name)) == 1


def test_failures_are_retried_later_with_the_same_body_and_id(
    sandbox_settings, receiver, institution, settings
):
    name, url = receiver
    endpoint, secret = endpoint_for(institution, url)
    delivery = emit(institution)
    sandbox_settings.receiver_mode(name, "down")
    before = timezone.now()
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    # 5 s, give or take 10 %.
    assert timedelta(seconds=4) < delivery.next_attempt_at - before < timedelta(seconds=6)
    # Not due yet: a task for it now does nothing.
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "skipped"

    sandbox_settings.receiver_mode(name, "500")
    due_now(delivery)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() > timedelta(minutes=4)

    sandbox_settings.receiver_mode(name, "200")
    due_now(delivery)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"

    attempts = list(delivery.attempts.order_by("started_at", "id"))
    assert [(a.outcome, a.http_status) for a in attempts] == [
        (AttemptOutcome.CONNECTION_ERROR, None),
        (AttemptOutcome.HTTP_ERROR, 500),
        (AttemptOutcome.SUCCESS, 200),
    ]
    assert "receiver failing on demand" in attempts[1].response_snippet
    received = sandbox_settings.receiver_received(name)
    assert [r["status"] for r in received] == [500, 200]
    assert len({r["body"] for r in received}) == 1
    assert {r["headers"]["webhook-id"] for r in received} == {delivery.event.message_id}
    for entry in received:
        Webhook(secret).verify(entry["body"].encode(), entry["headers"])
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # a success ends the failing run


def test_a_delivery_is_given_up_after_the_window(sandbox_settings, receiver, institution):
    name, url = receiver
    endpoint_for(institution, url)
    delivery = emit(institution)
    sandbox_settings.receiver_mode(name, "500")
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        first_attempt_at=timezone.now() - timedelta(hours=25)
    )
    due_now(delivery)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempt_count == 2


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_admins_told(
    sandbox_settings, receiver, institution, django_capture_on_commit_callbacks
):
    name, url = receiver
    endpoint, _secret = endpoint_for(institution, url)
    admin = UserFactory(
        institution=institution, role=Role.INSTITUTION_ADMIN, email="admin@exemple.fr"
    )
    UserFactory(institution=institution, role=Role.CLERK, email="clerk@exemple.fr")
    delivery = emit(institution)
    sandbox_settings.receiver_mode(name, "500")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=23)
    )
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    endpoint.refresh_from_db()
    assert endpoint.enabled

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=24, minutes=1)
    )
    due_now(delivery)
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "failing"
    [message] = mail.outbox
    assert message.to == [admin.email]
    assert url in message.body
    event = AuditEvent.objects.get(object_type="webhookendpoint", action=AuditAction.EDITED)
    assert event.details["change"] == "disabled"
    assert event.actor is None

    # Disabled: its deliveries wait, none is sent, new events are kept for it.
    due_now(delivery)
    sent_before = len(sandbox_settings.receiver_received(name))
    assert webhook_deliveries_dispatch() == 0
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "held"
    later = emit(institution, batch_id=8)
    assert later.state == DeliveryState.PENDING
    assert len(sandbox_settings.receiver_received(name)) == sent_before


def test_the_sweeper_sends_what_is_due_and_whose_task_was_lost(
    sandbox_settings, receiver, institution, settings
):
    name, url = receiver
    endpoint_for(institution, url)
    delivery = emit(institution)
    # Sent on commit (which never came in this test): not sent again until it is stale.
    assert webhook_deliveries_dispatch() == 0
    stale = timezone.now() - timedelta(seconds=settings.VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS + 1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(enqueued_at=stale)
    # The test process's broker is in memory: the sweeper sends the task there.
    assert webhook_deliveries_dispatch() == 1
    assert webhook_deliveries_dispatch() == 0
    # A worker that died mid-call left its lease: once expired, the delivery is taken again.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.SENDING,
        claimed_by="dead-worker",
        claimed_at=timezone.now() - timedelta(seconds=settings.VIGIE_WEBHOOKS_LEASE_SECONDS + 1),
        enqueued_at=stale,
    )
    assert webhook_deliveries_dispatch() == 1
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"
    assert len(sandbox_settings.receiver_received(name)) == 1


def test_a_worker_whose_lease_was_taken_records_nothing(
    sandbox_settings, receiver, institution, monkeypatch
):
    from webhooks.services import deliveries

    _name, url = receiver
    endpoint_for(institution, url)
    delivery = emit(institution)
    real_post = deliveries.sender.post

    def slow_post(**kwargs):
        result = real_post(**kwargs)
        # Meanwhile, the lease expired and another worker took the delivery.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_by="another-worker")
        return result

    monkeypatch.setattr(deliveries.sender, "post", slow_post)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "lost_lease"
    assert not DeliveryAttempt.objects.exists()


class Redirecting(BaseHTTPRequestHandler):
    """A receiver that answers every POST with a redirect and a long body."""

    hits: ClassVar[list[str]] = []

    def do_POST(self):
        self.hits.append(self.path)
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"x" * 5000
        self.send_response(302 if self.path == "/hook" else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Redirecting.hits.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_no_redirect_is_followed_and_the_snippet_is_short(redirecting, institution):
    endpoint_for(institution, redirecting)
    delivery = emit(institution)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    assert Redirecting.hits == ["/hook"]
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.http_status == 302
    assert attempt.outcome == AttemptOutcome.HTTP_ERROR
    assert attempt.response_snippet == "x" * 500


def test_old_events_are_forgotten_once_every_delivery_has_ended(institution, settings):
    from webhooks.models import WebhookEvent
    from webhooks.services.retention import webhook_events_purge

    endpoint_for(institution, "https://si.exemple.fr/vigie")
    ended, waiting, recent = emit(institution, 1), emit(institution, 2), emit(institution, 3)
    WebhookDelivery.objects.filter(pk=ended.pk).update(state=DeliveryState.DELIVERED)
    DeliveryAttempt.objects.create(
        delivery=ended, started_at=timezone.now(), outcome=AttemptOutcome.SUCCESS, http_status=200
    )
    old = timezone.now() - timedelta(days=settings.VIGIE_WEBHOOKS_RETENTION_DAYS, hours=1)
    WebhookEvent.objects.filter(pk__in=[ended.event_id, waiting.event_id]).update(created_at=old)
    WebhookDelivery.objects.filter(pk=recent.pk).update(state=DeliveryState.FAILED)
    assert webhook_events_purge() == 3  # the event, its delivery, its attempt
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {
        waiting.event_id,
        recent.event_id,
    }


def test_a_receiver_on_a_private_network_is_refused_unless_allowed(
    sandbox_settings, receiver, institution, settings
):
    name, url = receiver
    endpoint_for(institution, url)  # the sandbox, on 127.0.0.1
    delivery = emit(institution)
    settings.VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.outcome == AttemptOutcome.BLOCKED
    assert attempt.response_snippet == "non-public address refused: 127.0.0.1"
    assert not sandbox_settings.receiver_received(name)
    settings.VIGIE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    due_now(delivery)
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "delivered"


def test_a_secret_the_keys_cannot_read_is_recorded_not_sent(
    sandbox_settings, receiver, institution
):
    from django.db import connection

    name, url = receiver
    endpoint, _secret = endpoint_for(institution, url)
    delivery = emit(institution)
    with connection.cursor() as cursor:  # as after a wrong rotation of FIELD_ENCRYPTION_KEY
        cursor.execute(
            "UPDATE webhooks_webhookendpoint SET secret = %s WHERE id = %s",
            ["gAAAAAB-not-a-fernet-token", endpoint.pk],
        )
    assert webhook_delivery_send(delivery_id=delivery.pk).status == "retry"
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.outcome == AttemptOutcome.SECRET_UNREADABLE
    assert not sandbox_settings.receiver_received(name)
    # The pages still open, and say why.
    from django.test import Client
    from django.urls import reverse

    admin = Client()
    admin.force_login(UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN))
    page = admin.get(reverse("webhook_endpoint", args=[endpoint.pk]))
    assert page.status_code == 200
    assert "Secret illisible" in page.content.decode()
    assert admin.get(reverse("webhook_endpoints")).status_code == 200
    staff = Client()
    staff.force_login(UserFactory(backoffice=True))
    change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    assert staff.get(change).status_code == 200
