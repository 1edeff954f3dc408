"""CSV import benchmark: parse (validate) and commit (store) times and peak memory.

    .venv/bin/python bench/import_bench.py                 # SQLite, 10,000 and 100,000 rows
    .venv/bin/python bench/import_bench.py --postgres postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/import_bench.py --repeat 3 --write   # median of 3 into the docs

Files are generated from the sandbox population (``person(i)``: accented names, 1 to 3 given
names, every line with its four claims, the worst case) as French Excel writes them: UTF-8 with
BOM, ``;``. Each measurement runs in a fresh process, production-like (DEBUG off, so no query
log), against a fresh database: SQLite in a temporary folder, or a throw-away PostgreSQL
database created next to the one given and dropped afterwards. Runs, in order, in the same
database: 10,000 rows into an empty institution, 100,000 rows (over the product limits, which
are raised for it), then 10,000 rows again into the institution now holding 110,000 applicants
and their audit trail. Peak memory is the child process's maximum resident set size (VmHWM),
Django and the database driver included. ``--rows 500000`` (or ``10000+100000``...) imports
files of those sizes instead, in order.

As the product does, the file is read from disk: *parse* is the preview (``parse_import`` of
the file's path), *commit* is the import (``import_commit``, which reads the file again,
validating each block of lines as it stores it).
"""

import argparse
import csv
import io
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "PERFORMANCE.md"
START, END = "<!-- import_bench:start -->", "<!-- import_bench:end -->"
RUNS = (("10,000 rows, empty institution", 10_000), ("100,000 rows", 100_000))
RUNS_AFTER = (("10,000 rows, institution of 110,000", 10_000),)


def generate_csv(path: Path, start: int, count: int, tag: str) -> int:
    from bench.data import csv_row
    from sandbox.population import POPULATION_SIZE, person
    from verifications.imports import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n in range(start, start + count):
        p = person(n % POPULATION_SIZE)
        writer.writerow(csv_row(n, p, tag))
    data = out.getvalue().encode("utf-8-sig")
    path.write_bytes(data)
    return len(data)


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec;
    ``ru_maxrss`` does not (it keeps the high-water mark of the process that forked us)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One measurement, in its own process: parse then commit one file."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from admissions.models import Institution, User
    from verifications.imports import import_commit, parse_import

    if args.migrate:
        call_command("migrate", verbosity=0)
    settings.IMPORT_MAX_BYTES = 10**9
    settings.IMPORT_MAX_ROWS = 10**6
    institution, _ = Institution.objects.get_or_create(
        siret="13002526500013", defaults={"name": "Université du banc d'essai"}
    )
    user, _ = User.objects.get_or_create(
        username="bench", defaults={"institution": institution, "role": "clerk"}
    )
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    # As the product does: the preview reads the file from disk in chunks, and the import
    # reads it again, validating each block as it stores it.
    report = parse_import(Path(args.csv), institution=institution)
    parsed = time.perf_counter()
    if not report.ok:
        raise SystemExit(f"the generated file has errors: {report.errors[:3]}")
    batch = import_commit(acting_user=user, report=report, filename=Path(args.csv).name)
    committed = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": report.valid_row_count,
                "claims": report.claim_count,
                "parse_s": parsed - started,
                "commit_s": committed - parsed,
                "total_s": committed - started,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak_rss_mb(),
                "batch": batch.pk,
                "vendor": connection.vendor,
            }
        )
    )


def run_child(env: dict[str, str], csv_path: Path, *, migrate: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--csv", str(csv_path)]
    if migrate:
        command.append("--migrate")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(result.stderr or result.stdout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _psql_url(base: str, name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", base)


def run_sequence(
    args: argparse.Namespace, tmp_path: Path, env: dict[str, str], runs=(*RUNS, *RUNS_AFTER)
) -> list[dict]:
    """The imports (by default the three), in order, in a fresh database."""
    bench_db = None
    if args.postgres:
        import psycopg

        bench_db = f"vigie_bench_import_{os.getpid()}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{bench_db}"')
        env["DATABASE_URL"] = _psql_url(args.postgres, bench_db)
    else:
        database = tmp_path / "bench.sqlite3"
        for path in tmp_path.glob("bench.sqlite3*"):
            path.unlink()
        env["DATABASE_URL"] = f"sqlite:///{database}"
    results = []
    try:
        offset = 0
        for i, (label, count) in enumerate(runs):
            csv_path = tmp_path / f"import-{i}.csv"
            size = generate_csv(csv_path, offset, count, tag=f"B{i}")
            offset += count
            result = run_child(env, csv_path, migrate=i == 0)
            result.update(
                label=label,
                size_mb=size / 1024 / 1024,
                load=" ".join(f"{x:.2f}" for x in os.getloadavg()),
            )
            results.append(result)
            print(
                f"{result['vendor']:>10} {label:<40} parse {result['parse_s']:6.2f} s  "
                f"commit {result['commit_s']:6.2f} s  total {result['total_s']:6.2f} s  "
                f"peak RSS {result['peak_rss_mb']:4.0f} MB (before parse "
                f"{result['rss_before_mb']:.0f} MB)  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        if bench_db:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
    return results


def _median_run(runs: list[dict]) -> dict:
    """The run of median total time (an actual run, so its figures belong together)."""
    ordered = sorted(runs, key=lambda r: r["total_s"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["repeats"] = len(runs)
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return chosen


def child_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "admissions.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "import-bench-" + "x" * 50,
        "FIELD_ENCRYPTION_KEY": "3yR0b4ppV3mEJbHk1vYtq6Uu0mN9a2bXQh1pO5w8cLs=",
        "VIGIE_SIGNING_KEYS": "0Mk9n0bW2y8C2f0v6m3V0d9Qq2YH3e3l5m6JtRk0Yq8",
        "VIGIE_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="any database of the server to use")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is kept")
    parser.add_argument("--write", action="store_true", help="update docs/PERFORMANCE.md")
    parser.add_argument(
        "--rows",
        metavar="N[+N...]",
        help="import files of these sizes, in order, instead of the default sequence",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--migrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="vigie-import-bench-") as tmp:
        tmp_path = Path(tmp)
        env = child_env(tmp_path)
        os.environ.update(env)  # the parent only generates files, but imports Vigie's columns
        import django

        django.setup()
        runs = (*RUNS, *RUNS_AFTER)
        if args.rows:
            sizes = [int(n.replace("_", "").replace(",", "")) for n in args.rows.split("+")]
            runs = tuple((f"{n:,} rows", n) for n in sizes)
        sequences = [run_sequence(args, tmp_path, env, runs) for _ in range(args.repeat)]
    results = [_median_run(list(runs)) for runs in zip(*sequences, strict=True)]
    if args.write:
        write_doc(results)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB RAM, Python {platform.python_version()}"
    )


def write_doc(results: list[dict], note: str = "") -> None:
    vendor = results[0]["vendor"]
    lines = [
        f"| {vendor} | {r['label']} | {r['size_mb']:.1f} MB | {r['claims']:,} | "
        f"{r['parse_s']:.2f} s | {r['commit_s']:.2f} s | **{r['total_s']:.2f} s** | "
        f"{r['peak_rss_mb']:.0f} MB | {r['repeats']} |"
        for r in results
    ]
    text = DOC.read_text()
    start, end = text.index(START), text.index(END)
    block = text[start + len(START) : end]
    kept = [line for line in block.strip().splitlines() if not line.startswith(f"| {vendor} |")]
    header = kept[:2] or [
        "| Database | File | Size | Claims | Parse | Commit | Total | Peak RSS | Runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [line for line in kept[2:] if line.startswith("| ")]
    machine = f"Machine: {_machine()}; {time.strftime('%Y-%m-%d')}.{note}"
    body = "\n".join([*header, *rows, *lines, "", machine])
    DOC.write_text(text[: start + len(START)] + "\n" + body + "\n" + text[end:])


if __name__ == "__main__":
    main()
