"""Build the pages benchmark's data in the bench database, without running the load.

    BENCH_DATABASE_URL=... .venv/bin/python bench/populate_pages.py            # full size
    BENCH_DATABASE_URL=... .venv/bin/python bench/populate_pages.py --quick    # 10,000

The database is dropped and created again, migrated, then filled by ``bench.pages.populate``
(as ``bench/run.py --only pages`` does before its load); ``bench/profile_pages.py`` then
profiles the routes on it in-process.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stack as stack_module  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 applicants, 100,000 events")
    args = parser.parse_args()
    applicants, events = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="vigie-populate-") as tmp:
        stack = stack_module.Stack(
            directory=Path(tmp),
            database_url=stack_module.database_url(),
            redis_url=stack_module.redis_url(),
        )
        stack_module.fresh_database(stack.database_url)
        os.environ.update(stack.env)
        import django

        django.setup()
        from django.core.management import call_command

        from bench import pages

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        print(pages.populate(applicants, events, print))
        print(f"populated in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
