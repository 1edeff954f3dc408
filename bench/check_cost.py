"""What one check costs the worker: SQL statements and CPU per ``verification_run``.

    .venv/bin/python bench/check_cost.py                      # 40 checks per source, 5 rounds
    .venv/bin/python bench/check_cost.py --checks 20 --rounds 3
    .venv/bin/python bench/check_cost.py --queries            # list one check's statements
    .venv/bin/python bench/check_cost.py --profile certifinfo # cProfile of a round's checks

Runs the worker's service in this process (no Celery: the task is a thin wrapper), against a
sandbox of its own (limits off, on both sides, so that no check waits for a slot), PostgreSQL
(``BENCH_DATABASE_URL``, dropped and created afresh) and Redis (``BENCH_REDIS_URL``: the
limiter and the cache), production-like settings as the bench runs them (DEBUG off).

Each round imports fresh applicants (one claim each, of one kind) and puts their claims in a
verification batch, as a batch is launched in the product; then runs every request once
(*first check*: the claim had no verdict), and asks for and runs them again (*re-check*: the
claim has one, so the verdict-change rule reads the last check). *Statements* are counted
on the first checks of each batch as Django's ``CaptureQueriesContext`` counts them (every
statement sent, BEGIN, COMMIT and savepoints included), as ``tests/verifications/
test_check_statements.py`` pins them; *CPU*, on the others, is ``time.process_time`` of
this process around ``verification_run`` (the worker's CPU: Python, the HTTP client, the
database driver; not the sandbox's nor the servers'). The figures are the median over
rounds of each round's mean.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stack as stack_module  # noqa: E402
from bench.stack import Stack, load  # noqa: E402


SOURCES = ("api_particulier", "cvec", "certifinfo", "covoiturage")
KIND_OF = {
    "api_particulier": "scolarite",
    "cvec": "cvec",
    "certifinfo": "certification",
    "covoiturage": "covoiturage",
}
# No limit anywhere: a check never waits for a slot (that is the limiter's cost, not the
# check's), and the sandbox never answers 429.
SANDBOX_KNOBS = {
    "particulier_token_limit": 0,
    "particulier_ip_limit": 0,
    "particulier_endpoint_limit": 0,
    "covoiturage_limit": 0,
}
VIGIE_LIMITS_OFF = {
    f"VERIFICATION_RATE_LIMIT_{source}_{scope}".upper(): "off"
    for source in SOURCES
    for scope in ("source", "token", "ip")
}


# The first checks of each batch are counted (Django's CaptureQueriesContext, which keeps
# every statement's text: not timed), the others timed (nothing recorded).
COUNTED = 3


def run_checks(request_ids, *, profiler=None, keep=None):
    """Run each request once; returns (statements per counted check, CPU s per timed one)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from verifications.services.run import verification_run

    statements, cpu = [], []
    for n, request_id in enumerate(request_ids):
        if n < COUNTED:
            with CaptureQueriesContext(connection) as queries:
                outcome = verification_run(request_id=request_id, task_id="bench", worker="b")
            statements.append(len(queries))
            if keep is not None and n == 0:
                keep.extend(q["sql"] for q in queries.captured_queries)
        else:
            if profiler is not None:
                profiler.enable()
            started = time.process_time()
            outcome = verification_run(request_id=request_id, task_id="bench", worker="b")
            cpu.append(time.process_time() - started)
            if profiler is not None:
                profiler.disable()
        if outcome.status != "done":
            raise SystemExit(f"request {request_id}: {outcome}")
    return statements, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=40, help="checks per source and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--queries", action="store_true", help="print one check's statements")
    parser.add_argument("--profile", default="", help="cProfile the checks of this source")
    args = parser.parse_args()
    sources = args.sources.split(",")

    with tempfile.TemporaryDirectory(prefix="vigie-check-cost-") as tmp:
        stack = Stack(
            directory=Path(tmp),
            database_url=stack_module.database_url(),
            redis_url=stack_module.redis_url(),
        )
        try:
            stack.ensure_redis()
            stack.flush_redis()
            stack_module.fresh_database(stack.database_url)
            stack.extra_env = VIGIE_LIMITS_OFF
            stack.start_sandbox(SANDBOX_KNOBS)
            os.environ.update(stack.env)
            _measure(args, sources)
        finally:
            stack.stop_all()


def _measure(args, sources) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.data import import_people, institution_and_clerk
    from verifications.enums import Trigger
    from verifications.models import Claim, VerificationRequest
    from verifications.services.batches import batch_verification_launch
    from verifications.services.requests import verification_requests_create

    _institution, clerk = institution_and_clerk()
    print(f"load at start: {load()}", flush=True)
    figures: dict[str, dict[str, list[float]]] = {
        s: {"first_sql": [], "first_cpu": [], "again_sql": [], "again_cpu": []} for s in sources
    }
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
    offset = 0
    warmed = False
    for round_number in range(args.rounds):
        for source in sources:
            imported = import_people(
                offset, args.checks, f"cost-{source}-{round_number}", [KIND_OF[source]]
            )
            offset += 2 * args.checks
            claims = list(Claim.objects.filter(applicant__batch=imported))
            batch = batch_verification_launch(acting_user=clerk, claims=claims, label="cost")
            ids = list(
                VerificationRequest.objects.filter(batch=batch)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if not warmed:  # imports, connections, caches: not a check's cost
                run_checks(ids[:3])
                ids = ids[3:]
                warmed = True
            show = args.queries and round_number == args.rounds - 1
            kept: list[str] = []
            chosen = profiler if source == args.profile else None
            sql, cpu = run_checks(ids, profiler=chosen, keep=kept if show else None)
            if show:
                _print_statements(source, "first check", kept)
            figures[source]["first_sql"].append(statistics.mean(sql))
            figures[source]["first_cpu"].append(statistics.mean(cpu))
            # The re-check: the scheduler's (no batch), on claims that have a verdict.
            verification_requests_create(claims=claims, acting_user=None, trigger=Trigger.SCHEDULED)
            again = list(
                VerificationRequest.objects.filter(claim__in=claims, state="pending")
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            kept = []
            sql, cpu = run_checks(again, profiler=chosen, keep=kept if show else None)
            if show:
                _print_statements(source, "re-check", kept)
            figures[source]["again_sql"].append(statistics.mean(sql))
            figures[source]["again_cpu"].append(statistics.mean(cpu))
        print(f"round {round_number + 1} done, load {load()}", flush=True)

    print()
    print(f"{args.checks} checks per source and round, {args.rounds} rounds; median of means")
    print("| Source | Statements, first check | CPU | Statements, re-check | CPU |")
    print("|---|---|---|---|---|")
    for source in sources:
        f = figures[source]
        print(
            f"| {source} | {statistics.median(f['first_sql']):.1f} | "
            f"{1000 * statistics.median(f['first_cpu']):.1f} ms | "
            f"{statistics.median(f['again_sql']):.1f} | "
            f"{1000 * statistics.median(f['again_cpu']):.1f} ms |"
        )
    print(f"load at end: {load()}")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


def _print_statements(source: str, what: str, statements: list[str]) -> None:
    print(f"\n{source}, {what}: {len(statements)} statements")
    for n, sql in enumerate(statements, 1):
        print(f"  {n:2}. {' '.join(sql.split())[:150]}")


if __name__ == "__main__":
    main()
