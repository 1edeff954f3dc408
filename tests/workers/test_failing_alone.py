"""A few people the source always fails on, in a batch, with real Celery workers: they must
not take the source down for everyone else.

300 scolarité checks of 300 different people, 5 of whom API Particulier always answers 502
30999 (``ScolariteOutcome.PROVIDER_ERROR``). The other 295 finish at the source's rate, the
breaker never opens, and the 5 end ``unavailable`` with the reason that says the source
answered the others but failed repeatedly for them.
"""

import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.db.models import Max, Min

from sandbox.population import ScolariteOutcome, person
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for
from tests.workers.cluster import ROOT, wait_for
from verifications.enums import ClaimKind, RequestState, Source, Trigger, Verdict
from verifications.models import Batch, VerificationAttempt, VerificationRequest
from verifications.services import verification_requests_create


pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 50  # requests per second, the sandbox's and Vigie's limit for the test
ANSWERED = 295
FAILING = 5
MAX_FAILURES = 4


def _people() -> tuple[list, list]:
    """295 different people the source confirms and 5 it always fails on."""
    answered, failing = [], []
    for i in range(5000):
        p = person(i)
        if p.scolarite == ScolariteOutcome.PROVIDER_ERROR:
            if len(failing) < FAILING:
                failing.append(p)
        elif p.scolarite == ScolariteOutcome.ENROLLED and len(answered) < ANSWERED:
            answered.append(p)
        if len(answered) == ANSWERED and len(failing) == FAILING:
            return answered, failing
    raise LookupError("not enough people in the population")


def _breaker(cluster, source: str) -> dict:
    """The source's breaker as the workers' limiter sees it: read in a process with their
    environment (their Redis database, or their SQLite file)."""
    code = (
        "import dataclasses, json, django; django.setup(); "
        "from verifications.providers.limits import get_limiter; "
        f"state = get_limiter().breaker({str(source)!r}); "
        "print(json.dumps({k: v for k, v in dataclasses.asdict(state).items() if k != 'rates'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_people_the_source_always_fails_on_do_not_take_it_down(cluster, sandbox_settings, figures):
    sandbox_settings.configure(particulier_token_limit=RATE, particulier_token_window=1.0)
    cluster.env.update(
        {
            "VERIFICATION_RATE_LIMIT_API_PARTICULIER_TOKEN": f"{RATE}/1s",
            "VERIFICATION_MAX_FAILURES": str(MAX_FAILURES),
            # The breaker's own settings stay the defaults: 5 distinct failing requests, half of
            # those with an outcome in the last 60 s.
        }
    )
    cluster.start_worker("w1", concurrency=2)
    cluster.start_worker("w2", concurrency=2)
    cluster.start_beat()

    institution = InstitutionFactory()
    user = UserFactory(institution=institution, supervisor=True)
    answered_people, failing_people = _people()
    # The failing people spread through the batch (every 60th), as they would be in a real one.
    people = list(answered_people)
    for n, p in enumerate(failing_people):
        people.insert(60 * n + 30, p)
    claims = [claim_for(p, ClaimKind.SCOLARITE, institution) for p in people]
    failing_claims = {c.pk for c, p in zip(claims, people, strict=True) if p in failing_people}
    batch = Batch.objects.create(
        institution=institution, kind="verification", label="test", total=len(claims)
    )
    assert (
        verification_requests_create(
            claims=claims, acting_user=user, trigger=Trigger.BATCH, batch=batch
        )
        == 300
    )
    requests = VerificationRequest.objects.filter(batch=batch)
    started = time.monotonic()

    assert wait_for(
        lambda: not requests.exclude(state=RequestState.DONE).exists(), timeout=180, interval=0.2
    ), cluster.log("w1")[-3000:]
    elapsed = time.monotonic() - started

    # The 295: all confirmed, at the source's rate.
    others = requests.exclude(claim_id__in=failing_claims)
    assert Counter(others.values_list("verdict", flat=True)) == {Verdict.CONFIRMED: ANSWERED}
    first_call = VerificationAttempt.objects.filter(request__batch=batch).aggregate(
        t=Min("created_at")
    )["t"]
    last_done = others.aggregate(t=Max("finished_at"))["t"]
    makespan = (last_done - first_call).total_seconds()
    ideal = (ANSWERED - 1) / RATE
    # The limits make anything faster impossible. The upper bound is generous, for a loaded
    # 2-core machine where the workers' own work (database, audit chain) takes the time; the
    # breaker's never opening is checked below, directly. (Timing targets: benchmarks.)
    assert ideal * 0.95 <= makespan <= ideal * 4 + 15, makespan

    # The 5: unavailable, with their own reason, after their own bounded retries.
    stuck = list(requests.filter(claim_id__in=failing_claims))
    assert {(r.verdict, r.reason_code) for r in stuck} == {
        (Verdict.UNAVAILABLE, "source.failing_for_this_request")
    }
    for r in stuck:
        assert r.reason.startswith(
            f"La source a répondu aux autres demandes, mais a échoué {MAX_FAILURES} fois de suite "
            "pour celle-ci (Erreur du fournisseur de données (MEN), code 30999)"
        )
        assert r.attempts.count() == MAX_FAILURES

    # The breaker never opened, and the 5 are set aside: their re-runs will not open it.
    state = _breaker(cluster, Source.API_PARTICULIER)
    assert (state["state"], state["last_opened_at"]) == ("closed", None)
    assert state["failing_alone"] == FAILING
    assert state["subjects"] == ANSWERED  # each of the 5 set aside: no longer counted
    logs = cluster.log("w1") + cluster.log("w2")
    assert "Circuit breaker for api_particulier opened" not in logs
    stats = sandbox_settings.stats()["apis"]["particulier"]
    assert stats["max_per_second"] <= RATE
    assert stats["statuses"] == {"200": ANSWERED, "502": FAILING * MAX_FAILURES}

    figures(
        f"{ANSWERED} answered + {FAILING} always failing at {RATE}/s: the {ANSWERED} done in "
        f"{makespan:.1f} s (ideal {ideal:.1f} s), all 300 done {elapsed:.1f} s after the "
        f"start; breaker {state['state']}, never opened; {state['failing_alone']} set aside; "
        f"busiest second {stats['max_per_second']}; statuses {stats['statuses']}"
    )
