"""Scenario 1: bulk verification against the sources' rate limits.

A batch is launched as the product launches one (``batch_verification_launch``, which
kicks the dispatcher; beat ticks every 2 s); real Celery workers (``--concurrency 1`` each)
call the sandbox, which enforces the limits and counts every request it refuses (429). The
makespan runs from the batch's creation to its last verdict; its theoretical minimum is, per
source, the number of calls divided by the allowed rate, the slowest source bounding it.
"""

import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.stack import Stack, cpu_seconds, load


@dataclass(frozen=True)
class Limit:
    """One source's limit, as the sandbox enforces it and Vigie is configured with it."""

    requests: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def env(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


# The real limit of API Particulier (20/s per token, 1,000/min per IP), nothing else.
REAL_PARTICULIER = {"api_particulier": Limit(20, 1.0)}
# Published-like limits, scaled up for a short run: API Particulier as published; CVEC and
# Certif Info (no published limit; Vigie's default is a conservative 5/s) at 10/s; covoiturage
# (100 per 5 min per IP) 30 times faster: 600 per minute. Its window stays a minute because
# Vigie reads a `RateLimit-Limit` header as a per-minute rate (API Particulier's meaning):
# "100 per 10 s" would be learned as 100/min and bound the run (seen: 87 s instead of 20 s).
SCALED = {
    "api_particulier": Limit(20, 1.0),
    "cvec": Limit(10, 1.0),
    "certifinfo": Limit(10, 1.0),
    "covoiturage": Limit(600, 60.0),
}
API_OF = {
    "api_particulier": "particulier",
    "cvec": "cvec",
    "certifinfo": "certifinfo",
    "covoiturage": "covoiturage",
}
KIND_OF = {
    "api_particulier": "scolarite",
    "cvec": "cvec",
    "certifinfo": "certification",
    "covoiturage": "covoiturage",
}


def sandbox_knobs(limits: dict[str, Limit]) -> dict:
    knobs: dict = {"limit_algorithm": "sliding"}  # 429 = more than the limit in ANY window
    particulier = limits.get("api_particulier")
    if particulier:
        knobs |= {
            "particulier_token_limit": particulier.requests,
            "particulier_token_window": particulier.seconds,
        }
    for source, prefix in (
        ("cvec", "cvec"),
        ("certifinfo", "certifinfo"),
        ("covoiturage", "covoiturage"),
    ):
        if source in limits:
            knobs |= {
                f"{prefix}_limit": limits[source].requests,
                f"{prefix}_window": limits[source].seconds,
            }
    return knobs


def vigie_env(limits: dict[str, Limit]) -> dict[str, str]:
    """Vigie's limiter configured with the same limits (API Particulier's is its default)."""
    env = {}
    if "cvec" in limits:
        env["VERIFICATION_RATE_LIMIT_CVEC_SOURCE"] = limits["cvec"].env()
    if "certifinfo" in limits:
        env["VERIFICATION_RATE_LIMIT_CERTIFINFO_SOURCE"] = limits["certifinfo"].env()
    if "covoiturage" in limits:
        env["VERIFICATION_RATE_LIMIT_COVOITURAGE_IP"] = limits["covoiturage"].env()
    return env


@dataclass
class BulkResult:
    name: str
    workers: int
    applicants: int
    calls: dict[str, int]
    upstream_calls: dict[str, int]
    makespan: float
    minimum: float
    rate_limited: int
    statuses: dict[str, int]
    p50: float
    p95: float
    cpu_per_verification_ms: float
    verdicts: dict[str, int]
    unfinished: int
    max_per_second: dict[str, int] = field(default_factory=dict)
    rate_limited_by_api: dict[str, int] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""
    # SQL statements of one check, per source (``statements_per_check``).
    statements: dict[str, float] = field(default_factory=dict)
    # The loaded profile: CPU burners running meanwhile, and the largest grant-to-send delay
    # the limiter measured (what widened its windows), read at the end of the run.
    burners: int = 0
    send_delay_ms: float | None = None

    @property
    def ratio(self) -> float:
        return self.makespan / self.minimum


def run(
    stack: Stack,
    *,
    name: str,
    applicants: int,
    limits: dict[str, Limit],
    workers: int,
    offset: int,
    timeout: float = 300,
) -> BulkResult:
    from django.db.models import Count

    from bench.data import import_people, institution_and_clerk
    from verifications.enums import RequestState
    from verifications.models import Claim, VerificationRequest
    from verifications.services.batches import batch_verification_launch

    kinds = [KIND_OF[source] for source in limits]
    imported = import_people(offset, applicants, f"{name}-{workers}w", kinds)
    claims = list(Claim.objects.filter(applicant__batch=imported).select_related("institution"))

    stack.stop_cluster()
    stack.flush_redis()
    stack.extra_env = vigie_env(limits)
    stack.start_sandbox(sandbox_knobs(limits))
    stack.start_workers(workers)
    stack.start_beat()
    time.sleep(2)  # workers connected to the broker, first beat tick sent
    stack.sandbox("POST", "reset")
    stack.sandbox("POST", "knobs", sandbox_knobs(limits))

    pids = stack.worker_pids()
    cpu_before = cpu_seconds(pids)
    load_before = load()
    _institution, clerk = institution_and_clerk()
    started = time.monotonic()
    batch = batch_verification_launch(
        acting_user=clerk, claims=claims, label=f"bench {name} {workers} workers"
    )
    requests = VerificationRequest.objects.filter(batch=batch)
    while time.monotonic() - started < timeout:
        if not requests.exclude(state=RequestState.DONE).exists():
            break
        time.sleep(0.25)
    cpu_after = cpu_seconds(pids)
    load_after = load()
    stats = stack.sandbox("GET", "stats")
    statements = statements_per_check(stack, claims, clerk)
    send_delay_ms = _send_delay_ms(stack, list(limits))

    rows = list(requests.values_list("source", "created_at", "finished_at"))
    done = [(created, finished) for _s, created, finished in rows if finished]
    first_created = min(created for _s, created, _f in rows)
    makespan = (max(f for _c, f in done) - first_created).total_seconds() if done else float("inf")
    latencies = sorted((f - c).total_seconds() for c, f in done)
    calls: dict[str, int] = {}
    for source, _c, _f in rows:
        calls[source] = calls.get(source, 0) + 1
    # Upstream calls, as the sandbox counted them: a Certif Info check makes two.
    upstream = {s: stats["apis"].get(API_OF[s], {}).get("requests", 0) for s in calls}
    if not any(upstream.values()):  # nothing reached the sandbox: say why, not divide by zero
        worker_logs = "\n".join(stack.log(f"worker{n}")[-1500:] for n in range(1, workers + 1))
        raise SystemExit(
            f"{name}: no check reached the sandbox in {timeout:.0f} s "
            f"({len(done)} of {len(rows)} done); the workers' logs end with:\n{worker_logs}"
        )
    minimum = max(upstream[s] / limits[s].rate for s in calls)
    verdicts = dict(
        requests.values_list("verdict").annotate(n=Count("id")).values_list("verdict", "n")
    )
    per_second = {api: counter["max_per_second"] for api, counter in stats.get("apis", {}).items()}
    limited_by_api = {
        api: counter["rate_limited"]
        for api, counter in stats.get("apis", {}).items()
        if counter["rate_limited"]
    }
    return BulkResult(
        name=name,
        workers=workers,
        applicants=applicants,
        calls=calls,
        upstream_calls=upstream,
        makespan=makespan,
        minimum=minimum,
        rate_limited=stats["total"]["rate_limited"],
        statuses=stats["total"]["statuses"],
        p50=statistics.median(latencies) if latencies else float("nan"),
        p95=latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        cpu_per_verification_ms=1000 * (cpu_after - cpu_before) / max(len(done), 1),
        verdicts=verdicts,
        unfinished=len(rows) - len(done),
        max_per_second=per_second,
        rate_limited_by_api=limited_by_api,
        load_before=load_before,
        load_after=load_after,
        statements=statements,
        send_delay_ms=send_delay_ms,
    )


def _send_delay_ms(stack: Stack, sources: list[str]) -> float | None:
    """The largest grant-to-send delay the limiter holds now (decayed), over ``sources``."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    try:
        values = [client.hget(f"vigie:limits:{{{source}}}:delay", "v") for source in sources]
    finally:
        client.close()
    found = [float(v) for v in values if v is not None]
    return 1000 * max(found) if found else None


@contextlib.contextmanager
def cpu_burners(count: int, *, warm_up: float = 20.0) -> Iterator[list[int]]:
    """``count`` processes spinning at nice 0 (the load a busy machine puts on the workers and
    the sandbox), started ``warm_up`` seconds before the block so the load average climbs;
    stopped, by their own ids, when it ends."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        time.sleep(warm_up)
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


# Checks per source whose statements are counted after a run.
COUNTED_CHECKS = 3


def statements_per_check(stack: Stack, claims: list, clerk) -> dict[str, float]:
    """SQL statements of one check, per source: the workers and beat stopped, a batch of
    ``COUNTED_CHECKS`` of the run's claims per source is checked again in this process,
    each check counted by Django's ``CaptureQueriesContext`` (BEGIN and COMMIT included, as
    ``tests/verifications/test_check_statements.py`` counts them). The workers run the same
    service; counting in their processes would need a hook in the product."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from sandbox import tokens
    from verifications.models import VerificationRequest
    from verifications.services.batches import batch_verification_launch
    from verifications.services.run import verification_run

    stack.stop(*[name for name in stack.processes if name.startswith(("worker", "beat"))])
    chosen: dict[str, list] = {}
    for claim in claims:
        source = _source_of(claim.kind)
        if len(chosen.setdefault(source, [])) < COUNTED_CHECKS:
            chosen[source].append(claim)
    batch = batch_verification_launch(
        acting_user=clerk, claims=[c for cs in chosen.values() for c in cs], label="statements"
    )
    counts: dict[str, list[int]] = {}
    with override_settings(
        API_PARTICULIER_BASE_URL=f"{stack.sandbox_url}/particulier",
        API_PARTICULIER_TOKEN=tokens.DEFAULT_TOKEN,
        CVEC_BASE_URL=f"{stack.sandbox_url}/cvec",
        CERTIFINFO_BASE_URL=f"{stack.sandbox_url}/certifinfo",
        CERTIFINFO_TOKEN=tokens.CERTIFINFO_TOKEN,
        COVOITURAGE_BASE_URL=f"{stack.sandbox_url}/covoiturage/v3.2",
    ):
        for request in VerificationRequest.objects.filter(batch=batch).order_by("pk"):
            with CaptureQueriesContext(connection) as queries:
                verification_run(request_id=request.pk, task_id="bench", worker="bench")
            counts.setdefault(request.source, []).append(len(queries))
    return {source: statistics.mean(n) for source, n in counts.items()}


def _source_of(kind: str) -> str:
    from verifications.enums import ClaimKind

    return str(ClaimKind(kind).source)


def describe(r: BulkResult) -> str:
    calls = ", ".join(
        f"{s} {n} ({r.upstream_calls.get(s, 0)} calls)" for s, n in sorted(r.calls.items())
    )
    return (
        f"{r.name} with {r.workers} worker(s): {sum(r.calls.values())} verifications ({calls}); "
        f"makespan {r.makespan:.1f} s, minimum {r.minimum:.1f} s, ratio {r.ratio:.2f}; "
        f"429s {r.rate_limited} {r.rate_limited_by_api or ''}; "
        f"request->verdict p50 {r.p50:.1f} s p95 {r.p95:.1f} s; "
        f"CPU {r.cpu_per_verification_ms:.0f} ms/verification; statements per check "
        f"{statements_cell(r.statements)}; unfinished {r.unfinished}; "
        f"load {r.load_before} -> {r.load_after}"
    )


def statements_cell(statements: dict[str, float]) -> str:
    """``5`` when every source's check costs the same, else ``cvec 5, certifinfo 6``; ``–``
    when none was counted (a run of before this column)."""
    values = set(statements.values())
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values.pop():g}"
    return ", ".join(f"{source} {n:g}" for source, n in sorted(statements.items()))
