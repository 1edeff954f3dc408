"""Webhooks with real Celery worker and beat processes, over real HTTP to a sandbox receiver
that is down for a while, then answers 500, then 200: it gets every event exactly once in the
end, each attempt is recorded, and every signature verifies with the published algorithm. And
a worker killed while a receiver holds its request: the event is sent again by another.

The events are the real ones: a verification batch run by the worker emits one
``verification.completed`` and one ``verdict.changed`` per claim and one ``batch.finished``;
their first attempts are sent on commit, every retry by the sweeper on beat.
"""

import base64
import hashlib
import hmac
import json
from collections import Counter

import pytest
from standardwebhooks import Webhook

from tests.factories import InstitutionFactory
from tests.webhooks.helpers import endpoint_for
from tests.workers.batches import batch_done, batch_of
from tests.workers.cluster import wait_for
from verifications.enums import ClaimKind
from webhooks.enums import AttemptOutcome, DeliveryState, EventType
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEvent
from webhooks.services.events import webhook_event_emit


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLAIMS = 4


def hand_verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The algorithm as published, without the library (docs/WEBHOOKS.md)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{digest}" in headers["webhook-signature"].split()


def attempts_with(outcome: str, *, at_least: int = 1) -> set[int]:
    """The deliveries with at least that many attempts of this outcome."""
    per_delivery = Counter(
        DeliveryAttempt.objects.filter(outcome=outcome).values_list("delivery_id", flat=True)
    )
    return {delivery for delivery, n in per_delivery.items() if n >= at_least}


def test_a_receiver_down_then_failing_then_up_gets_every_event_exactly_once(
    cluster, sandbox_settings, figures
):
    name = "worker-test"
    sandbox_settings.receiver_mode(name, "down")
    batch, _claims = batch_of([ClaimKind.SCOLARITE], per_kind=CLAIMS)
    endpoint, secret = endpoint_for(batch.institution, sandbox_settings.receiver_url(name))
    cluster.env.update(
        {
            # Seconds between attempts rather than hours; the sweeper (every 5 s) sends them.
            "VIGIE_WEBHOOKS_RETRY_DELAYS": ",".join(["1"] * 60),
            "VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS": "3",
            "VIGIE_WEBHOOKS_LEASE_SECONDS": "15",
        }
    )
    cluster.start_worker("w1", concurrency=2)
    cluster.start_beat()
    expected_events = 2 * CLAIMS + 1

    # Down for a while: every delivery is tried, and retried, and finds no server.
    assert wait_for(lambda: batch_done(batch), timeout=120), cluster.log("w1")[-3000:]
    assert wait_for(
        lambda: (
            WebhookEvent.objects.count() == expected_events
            and len(attempts_with(AttemptOutcome.CONNECTION_ERROR, at_least=2)) == expected_events
        ),
        timeout=90,
    ), cluster.log("w1")[-3000:]
    assert not sandbox_settings.receiver_received(name)

    # 500: every delivery is refused at least once more.
    sandbox_settings.receiver_mode(name, "500")
    assert wait_for(
        lambda: len(attempts_with(AttemptOutcome.HTTP_ERROR)) == expected_events, timeout=90
    ), cluster.log("w1")[-3000:]
    assert not WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).exists()

    # 200: everything arrives.
    sandbox_settings.receiver_mode(name, "200")
    assert wait_for(
        lambda: (
            WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).count() == expected_events
        ),
        timeout=90,
    ), cluster.log("w1")[-3000:]

    events = {e.message_id: e for e in WebhookEvent.objects.all()}
    assert Counter(e.type for e in events.values()) == {
        EventType.VERIFICATION_COMPLETED: CLAIMS,
        EventType.VERDICT_CHANGED: CLAIMS,
        EventType.BATCH_FINISHED: 1,
    }
    received = sandbox_settings.receiver_received(name)
    accepted = [r for r in received if r["status"] == 200]
    # Every event exactly once, in the end.
    assert Counter(r["headers"]["webhook-id"] for r in accepted) == dict.fromkeys(events, 1)
    # Every request the receiver saw verifies, with the library and by hand, and carries the
    # event's body.
    for entry in received:
        body = entry["body"].encode()
        payload = Webhook(secret).verify(body, entry["headers"])
        assert hand_verified(secret, entry["headers"], body)
        event = events[entry["headers"]["webhook-id"]]
        assert payload == {
            "type": event.type,
            "timestamp": payload["timestamp"],
            "data": json.loads(json.dumps(event.data)),
        }
    # Each attempt recorded: what the receiver answered, and the attempts it never saw.
    attempts = DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
    by_outcome = Counter(attempts.values_list("outcome", flat=True))
    assert by_outcome[AttemptOutcome.SUCCESS] == expected_events
    assert by_outcome[AttemptOutcome.HTTP_ERROR] == sum(r["status"] == 500 for r in received)
    assert by_outcome[AttemptOutcome.CONNECTION_ERROR] >= 2 * expected_events
    assert set(by_outcome) == {
        AttemptOutcome.SUCCESS,
        AttemptOutcome.HTTP_ERROR,
        AttemptOutcome.CONNECTION_ERROR,
    }
    for delivery in WebhookDelivery.objects.all():
        outcomes = list(
            delivery.attempts.order_by("started_at", "id").values_list("outcome", flat=True)
        )
        assert outcomes[0] == AttemptOutcome.CONNECTION_ERROR
        assert outcomes[-1] == AttemptOutcome.SUCCESS
        assert outcomes.count(AttemptOutcome.SUCCESS) == 1
        assert delivery.attempt_count == len(outcomes)
    figures(
        f"{expected_events} events; attempts {dict(by_outcome)}; "
        f"receiver saw {len(received)} requests, accepted {len(accepted)}"
    )


def test_a_worker_killed_while_the_receiver_answers_leaves_the_delivery_to_another(
    cluster, sandbox_settings, figures
):
    """Delivery is at least once: a worker SIGKILLed while a slow receiver holds its request
    records nothing; the lease expires, another worker sends the event again (the same
    ``webhook-id``, for the receiver to drop), and the delivery ends delivered once."""
    name = "killed"
    sandbox_settings.receiver_mode(name, "slow", seconds=3)
    institution = InstitutionFactory()
    endpoint_for(institution, sandbox_settings.receiver_url(name))
    cluster.env.update(
        {
            "VIGIE_WEBHOOKS_RETRY_DELAYS": ",".join(["1"] * 60),
            "VIGIE_WEBHOOKS_STALE_ENQUEUE_SECONDS": "3",
            "VIGIE_WEBHOOKS_LEASE_SECONDS": "6",
        }
    )
    cluster.start_worker("w1")
    cluster.start_beat()
    event = webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 1}
    )
    assert event is not None
    # Its first task is sent by the sweeper (the test's own process has no broker to send to).
    assert wait_for(lambda: sandbox_settings.receiver_received(name), timeout=30), cluster.log(
        "w1"
    )[-3000:]
    cluster.kill("w1")  # while the receiver holds the request
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.state == DeliveryState.SENDING
    assert not delivery.attempts.exists()

    sandbox_settings.receiver_mode(name, "200")
    cluster.start_worker("w2")
    assert wait_for(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery.pk, state=DeliveryState.DELIVERED
        ).exists(),
        timeout=60,
    ), cluster.log("w2")[-3000:]
    received = sandbox_settings.receiver_received(name)
    assert [r["headers"]["webhook-id"] for r in received] == [event.message_id] * 2
    assert received[0]["body"] == received[1]["body"]
    delivery.refresh_from_db()
    assert list(delivery.attempts.values_list("outcome", flat=True)) == [AttemptOutcome.SUCCESS]
    figures(f"receiver saw the event {len(received)} times (same id); one attempt recorded")
