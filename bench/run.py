"""``make bench``: every scenario, end to end, then docs/PERFORMANCE.md rewritten.

    .venv/bin/python bench/run.py [--only bulk,pages,import] [--no-write]
    .venv/bin/python bench/run.py --only pages --reuse-data   # again on the last run's data
    .venv/bin/python bench/run.py --only bulk --bulk-profile loaded --no-write  # CPU burners
    BENCH_QUICK=1 .venv/bin/python bench/run.py      # smaller N, docs left alone

Starts what it needs on loopback (see bench/stack.py): a fresh PostgreSQL database
(``BENCH_DATABASE_URL``, default ``vigie_bench``), Redis (``BENCH_REDIS_URL``, default db 5),
the sandbox, Celery workers and beat, gunicorn. Figures also go to ``var/bench/results.json``.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stack as stack_module  # noqa: E402
from bench.stack import Stack, load  # noqa: E402


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


def setup_django(stack: Stack) -> None:
    os.environ.update(stack.env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # DEBUG off serves hashed static files from the manifest, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)


def run_bulk_loaded(stack: Stack, *, checks: int, burners: int) -> list:
    """Scolarité checks at API Particulier's real limit (4 workers) while ``burners``
    processes spin at nice 0: the limiter's margin must absorb the workers' and the sandbox's
    delays (issue 18), and the sandbox counts any 429."""
    from bench import bulk

    say(f"bulk (loaded): starting {burners} CPU burners; load {load()}")
    with bulk.cpu_burners(burners):
        say(
            f"bulk (loaded): {checks} scolarité claims, API Particulier at 20/s, 4 workers; "
            f"load {load()}"
        )
        result = bulk.run(
            stack,
            name="particulier-20-loaded",
            applicants=checks,
            limits=bulk.REAL_PARTICULIER,
            workers=4,
            offset=50_000,
            timeout=600,
        )
    result.burners = burners
    say(bulk.describe(result) + f"; largest grant-to-send delay held {result.send_delay_ms} ms")
    stack.stop_cluster()
    return [result]


def run_bulk(stack: Stack) -> list:
    from bench import bulk

    results = []
    n_real = 200 if QUICK else 1000
    say(f"bulk: {n_real} scolarité claims, API Particulier at 20/s, 4 workers")
    result = bulk.run(
        stack,
        name="particulier-20",
        applicants=n_real,
        limits=bulk.REAL_PARTICULIER,
        workers=4,
        offset=0,
    )
    say(bulk.describe(result))
    results.append(result)
    n_mixed = 40 if QUICK else 200
    for i, workers in enumerate((1, 2, 4)):
        say(f"bulk: {n_mixed} applicants x 4 kinds, scaled limits, {workers} worker(s)")
        result = bulk.run(
            stack,
            name="mixed-scaled",
            applicants=n_mixed,
            limits=bulk.SCALED,
            workers=workers,
            offset=10_000 * (i + 1),
            timeout=240,
        )
        say(bulk.describe(result))
        results.append(result)
    stack.stop_cluster()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="bulk,pages,import", help="scenarios to run")
    parser.add_argument("--no-write", action="store_true", help="leave docs/PERFORMANCE.md")
    parser.add_argument("--write", action="store_true", help="rewrite it even with BENCH_QUICK")
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="keep the database of the last run (pages only: its 100,000 applicants and "
        "1,000,000 events are not written again); for profiling, the docs are left alone",
    )
    parser.add_argument(
        "--bulk-profile",
        choices=("default", "loaded"),
        default="default",
        help="loaded: the scolarité run alone, with CPU burners spinning meanwhile",
    )
    parser.add_argument("--bulk-checks", type=int, default=600, help="checks of the loaded run")
    parser.add_argument("--burners", type=int, default=8, help="CPU burners of the loaded run")
    args = parser.parse_args()
    if args.reuse_data and args.only != "pages":
        parser.error("--reuse-data goes with --only pages")
    chosen = set(args.only.split(","))
    started = time.monotonic()
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
        stack = Stack(
            directory=Path(tmp),
            database_url=stack_module.database_url(),
            redis_url=stack_module.redis_url(),
        )
        results: dict = {
            "quick": QUICK,
            "machine": stack_module.machine(),
            "load_start": load(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        try:
            stack.ensure_redis()
            results["versions"] = stack_module.versions(
                stack.database_url.rsplit("/", 1)[0] + "/postgres", stack.redis_url
            )
            say(f"{results['machine']} {results['versions']}; load {results['load_start']}")
            if not args.reuse_data:
                stack_module.fresh_database(stack.database_url)
            setup_django(stack)
            if "bulk" in chosen:
                bulk_results = (
                    run_bulk_loaded(stack, checks=args.bulk_checks, burners=args.burners)
                    if args.bulk_profile == "loaded"
                    else run_bulk(stack)
                )
                results["bulk"] = [dataclasses.asdict(r) for r in bulk_results]
            if "pages" in chosen:
                from bench import pages

                results["pages"] = pages.run(
                    stack, quick=QUICK, say=say, reuse_data=args.reuse_data
                )
            if "import" in chosen:
                from bench import imports

                results["import"] = imports.run(stack, quick=QUICK, say=say)
        finally:
            stack.stop_all()
            for name in sorted(Path(tmp).glob("*.log")):
                (out_dir / name.name).write_bytes(name.read_bytes())
        results["seconds"] = time.monotonic() - started
        results["load_end"] = load()
        (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        say(f"done in {results['seconds']:.0f} s; figures in var/bench/results.json")
        loaded = args.bulk_profile == "loaded"  # one scenario: the table is left alone
        if args.write or not (args.no_write or QUICK or args.reuse_data or loaded):
            from bench import report

            report.write(results)
            say("docs/PERFORMANCE.md rewritten")


if __name__ == "__main__":
    main()
