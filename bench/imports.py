"""Scenario 3: CSV import, 10,000 and 100,000 rows (bench/import_bench.py, on PostgreSQL)."""

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import import_bench
from bench.stack import Stack, load


QUICK_RUNS = (("10,000 rows, empty institution", 10_000),)


def run(stack: Stack, *, quick: bool, say: Callable[[str], None]) -> dict:
    server = stack.database_url.rsplit("/", 1)[0] + "/postgres"
    runs = QUICK_RUNS if quick else (*import_bench.RUNS, *import_bench.RUNS_AFTER)
    say(f"import: {', '.join(label for label, _n in runs)}; load {load()}")
    with tempfile.TemporaryDirectory(prefix="vigie-import-bench-") as tmp:
        tmp_path = Path(tmp)
        results = import_bench.run_sequence(
            argparse.Namespace(postgres=server),
            tmp_path,
            import_bench.child_env(tmp_path),
            runs=runs,
        )
    for result in results:
        result["repeats"] = 1
    return {"runs": results, "load_after": load()}
