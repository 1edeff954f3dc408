"""The dispatcher and a broker that is down or came back empty: requests are sent again at the
first tick the broker takes them, not once their sent mark goes stale (a minute).

The sends run in a real process of their own (``manage.py shell``) whose broker is a closed
port or a real Redis: the test process's own broker is in memory.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with
from tests.workers.cluster import ROOT, database_url
from verifications.enums import ClaimKind, RequestState, Trigger
from verifications.models import VerificationRequest
from verifications.services import verification_requests_create
from verifications.services.dispatch import BROKER_EPOCH_KEY


pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def _run(code: str, *, broker_url: str, tmp_path) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "VIGIE_TEST_BROKER_URL"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "VIGIE_VAR_DIR": str(tmp_path),
        "VIGIE_TEST_BROKER_URL": broker_url,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _pending(count: int) -> list[VerificationRequest]:
    institution = InstitutionFactory()
    user = UserFactory(institution=institution, supervisor=True)
    person = person_with(scolarite=ScolariteOutcome.ENROLLED)
    claims = [claim_for(person, ClaimKind.SCOLARITE, institution) for _ in range(count)]
    verification_requests_create(claims=claims, acting_user=user, trigger=Trigger.BATCH)
    return list(VerificationRequest.objects.filter(institution=institution).order_by("id"))


DISPATCH = (
    "import json; from verifications.services import verification_dispatch; "
    "r = verification_dispatch(); print(json.dumps({'sent': sum(r.sent.values()), "
    "'unsent': r.unsent, 'resent': r.resent}))"
)


def test_a_tick_whose_sends_the_broker_refuses_gives_its_requests_back(tmp_path):
    requests = _pending(3)
    report = json.loads(_run(DISPATCH, broker_url=CLOSED_PORT_BROKER, tmp_path=tmp_path))
    assert report == {"sent": 3, "unsent": 3, "resent": 0}
    # Not "in the broker" for a minute: the next tick sends them again.
    ids = [r.pk for r in requests]
    assert (
        list(VerificationRequest.objects.filter(pk__in=ids).values_list("enqueued_at", flat=True))
        == [None] * 3
    )


def test_a_single_request_the_broker_refuses_is_left_to_the_next_tick(tmp_path):
    (request,) = _pending(1)
    VerificationRequest.objects.filter(pk=request.pk).delete()
    claim = request.claim
    code = (
        "from verifications.models import Claim; "
        "from verifications.services import verification_request_create; "
        f"r = verification_request_create(claim=Claim.objects.get(pk={claim.pk}), "
        "acting_user=None); print(r.pk)"
    )
    pk = int(_run(code, broker_url=CLOSED_PORT_BROKER, tmp_path=tmp_path))
    created = VerificationRequest.objects.get(pk=pk)
    assert (created.state, created.enqueued_at) == (RequestState.PENDING, None)


@pytest.fixture
def broker_redis(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs a Redis server (REDIS_URL)")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield settings.REDIS_URL, client
    client.flushdb()
    client.close()


def test_requests_sent_before_the_broker_restarted_empty_are_sent_again(broker_redis, tmp_path):
    url, client = broker_redis
    requests = _pending(3)
    # Two were sent 10 s ago, into a broker that has since lost them (no epoch key: empty).
    marked = timezone.now() - timedelta(seconds=10)
    VerificationRequest.objects.filter(pk__in=[r.pk for r in requests[:2]]).update(
        enqueued_at=marked
    )
    report = json.loads(_run(DISPATCH, broker_url=url, tmp_path=tmp_path))
    assert report == {"sent": 3, "unsent": 0, "resent": 2}
    assert client.exists(BROKER_EPOCH_KEY)
    assert client.llen("gov_api") == 3
    sent = list(VerificationRequest.objects.filter(pk__in=[r.pk for r in requests]))
    assert all(r.enqueued_at is not None and r.enqueued_at > marked for r in sent)

    # The same broker at the next tick: nothing lost, nothing sent twice.
    report = json.loads(_run(DISPATCH, broker_url=url, tmp_path=tmp_path))
    assert report == {"sent": 0, "unsent": 0, "resent": 0}

    # Restarted empty again (flushed): the three are sent again at once.
    client.flushdb()
    report = json.loads(_run(DISPATCH, broker_url=url, tmp_path=tmp_path))
    assert report == {"sent": 3, "unsent": 0, "resent": 3}
