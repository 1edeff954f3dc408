"""Where a page's time goes, on the data the last pages benchmark left in the bench database.

    .venv/bin/python bench/profile_pages.py                 # every route: queries and time
    .venv/bin/python bench/profile_pages.py search --profile # one route under cProfile
    .venv/bin/python bench/profile_pages.py search --explain # EXPLAIN ANALYZE of its queries

Runs in this process (Django's test client, production settings as the bench sets them: DEBUG
off, PostgreSQL, Redis), so it measures the server's own work with nothing else competing:
median of ``--repeat`` requests after a warm-up. Needs ``make bench`` (or ``--only pages``)
to have run once.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stack as stack_module  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("route", nargs="?", help="one route (default: all)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="cProfile: own and total time")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE its queries")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vigie-profile-") as tmp:
        stack = stack_module.Stack(
            directory=Path(tmp),
            database_url=stack_module.database_url(),
            redis_url=stack_module.redis_url(),
        )
        os.environ.update(stack.env)
        # With the baseline routes (bench/urls.py), as gunicorn serves them in the benchmark.
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
        import django

        django.setup()
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from bench import pages
        from bench.data import institution_and_clerk, supervisor_of

        institution, clerk = institution_and_clerk()
        clerk_client = Client(HTTP_HOST="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
        clerk_client.force_login(clerk)
        supervising = Client(HTTP_HOST="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
        supervising.force_login(supervisor_of(institution))
        targets = pages._targets()
        routes = [r for r in pages.ROUTES if args.route in (None, r.name)]
        if not routes:
            raise SystemExit(f"no route {args.route!r}: {[r.name for r in pages.ROUTES]}")
        for route in routes:
            client = supervising if route.supervisors_only else clerk_client
            rng = random.Random(5)
            paths = [pages._path(route, targets, rng) for _ in range(args.repeat)]
            client.get(paths[0][0], headers=paths[0][1])  # warm-up
            times = []
            with CaptureQueriesContext(connection) as queries:
                for path, headers in paths:
                    started = time.perf_counter()
                    response = client.get(path, headers=headers)
                    times.append(1000 * (time.perf_counter() - started))
                    assert response.status_code == 200, (path, response.status_code)
            sql_ms = 1000 * sum(float(q["time"]) for q in queries.captured_queries)
            print(
                f"{route.name:<22} median {statistics.median(times):6.1f} ms  max "
                f"{max(times):6.1f} ms  {len(queries) / len(paths):4.1f} queries, "
                f"{sql_ms / len(paths):5.1f} ms in SQL (per request)"
            )
            if args.explain:
                _explain(connection, client, paths[0])
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for path, headers in paths:
                    client.get(path, headers=headers)
                profiler.disable()
                for order in ("tottime", "cumulative"):
                    pstats.Stats(profiler).sort_stats(order).print_stats(30)


def _explain(connection, client, path_and_headers) -> None:
    from django.test.utils import CaptureQueriesContext

    path, headers = path_and_headers
    with CaptureQueriesContext(connection) as queries:
        client.get(path, headers=headers)
    for query in queries.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        print(f"\n-- {float(query['time']) * 1000:.1f} ms: {sql[:400]}")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            for (line,) in cursor.fetchall():
                print("   ", line)


if __name__ == "__main__":
    main()
