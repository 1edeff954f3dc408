"""Rewriting the generated parts of docs/PERFORMANCE.md from a run's figures.

Each generated part sits between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``;
everything outside the markers (method, analysis, before/after) is written by hand and kept.
The import table keeps its own markers (bench/import_bench.py writes it too).
"""

from pathlib import Path

from bench import bulk, import_bench


DOC = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"


def _replace(text: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if start not in text:
        raise SystemExit(f"docs/PERFORMANCE.md has no {start} marker")
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def machine(results: dict) -> str:
    m, v = results["machine"], results["versions"]
    return (
        f"Run of {results['date']} ({'BENCH_QUICK' if results['quick'] else 'full size'}; "
        f"{', '.join(k for k in ('bulk', 'pages', 'import') if k in results)}; "
        f"{results['seconds']:.0f} s end to end): {m['cores']} cores ({m['cpu']}), {m['ram']} "
        f"RAM; Python {v['python']}, PostgreSQL {v['postgresql']}, Redis {v['redis']}. Load "
        f"average (1, 5, 15 min) at the start {results['load_start']}, at the end "
        f"{results['load_end']}."
    )


def bulk_table(rows: list[dict]) -> str:
    lines = [
        "| Scenario | Workers | Checks (upstream calls) | Minimum | Makespan | Ratio | 429s "
        "| Request → verdict p50 / p95 | CPU per check | Statements per check "
        "| Load before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        checks = ", ".join(
            f"{source} {n} ({r['upstream_calls'].get(source, 0)})"
            for source, n in sorted(r["calls"].items())
        )
        ratio = r["makespan"] / r["minimum"]
        mark = "✅" if ratio <= 1.10 else "❌"
        lines.append(
            f"| {r['name']} | {r['workers']} | {checks} | {r['minimum']:.1f} s | "
            f"{r['makespan']:.1f} s | **{ratio:.2f}** {mark} | {r['rate_limited']} | "
            f"{r['p50']:.1f} s / {r['p95']:.1f} s | {r['cpu_per_verification_ms']:.0f} ms | "
            f"{bulk.statements_cell(r.get('statements') or {})} | "
            f"{r['load_before'].split()[0]} → {r['load_after'].split()[0]} |"
        )
    unfinished = sum(r["unfinished"] for r in rows)
    lines.append("")
    lines.append(f"Requests left unfinished at the end of a run: {unfinished}.")
    return "\n".join(lines)


def pages_table(pages: dict) -> str:
    counts = {row["route"]: row for row in pages["queries"]}
    data = pages["data"]
    g = pages["gunicorn"]
    lines = [
        f"{data['applicants']:,} applicants, {data['requests']:,} verification requests, "
        f"{data['audit_events']:,} audit events; {pages['clerks']} clerks; gunicorn "
        f"{g['workers']} workers of {g['threads']} threads; the first {pages['warmup']} s of each "
        "profile are not counted.",
    ]
    for profile in pages["profiles"]:
        batch = profile["batch_during_load"]
        last = batch.get("last_verdict_after")
        lines += [
            "",
            f"**{profile['name'].capitalize()}** ({profile['think'][0]:g}–"
            f"{profile['think'][1]:g} s between a clerk's requests): {profile['duration']} s, "
            f"{profile['requests']:,} requests, {profile['errors']} errors; a batch verified "
            f"meanwhile: {batch['done']:,} of {batch['total']:,} checks done"
            + (f", the last {last:.0f} s after the clerks started" if last is not None else "")
            + f". Load {profile['load_before'].split()[0]} → "
            f"{profile['load_after'].split()[0]}.",
            "",
            "| Route | Requests | Errors | p50 | p95 | p99 | Slowest | Target (p95) | Ratio "
            "| p50 / p95 x baseline | Baseline target | Queries "
            "| Server time (1 request, in-process) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in profile["routes"]:
            q = counts.get(r["route"], {})
            mark = "✅" if r["ratio"] <= 1 else "❌"
            if r.get("base_target") is None:
                base_target = "—"
            else:
                ok = "✅" if r["base_p95_ratio"] <= r["base_target"] else "❌"
                base_target = f"≤ {r['base_target']:g}x {ok}"
            lines.append(
                f"| {r['route']} | {r['requests']} | {r['errors']} | {r['p50']:.0f} ms | "
                f"{r['p95']:.0f} ms | {r['p99']:.0f} ms | {r['slowest']:.0f} ms | "
                f"{r['target']} ms | **{r['ratio']:.2f}** {mark} | "
                f"{r['base_p50_ratio']:.2f} / **{r['base_p95_ratio']:.2f}** | {base_target} | "
                f"{q.get('queries', '—')} | " + (f"{q['server_ms']:.0f} ms |" if q else "— |")
            )
        launch = profile.get("batch_launch")
        if launch:
            lines += [
                "",
                f"Launching that batch ({launch['claims']:,} claims): the request answered in "
                f"{launch['request_ms']:.0f} ms (the batch row and one count); a worker wrote "
                f"its checks in {launch['prepare_s']:.1f} s while its page showed the "
                "preparation.",
            ]
        polls = profile.get("card_polls")
        if polls:
            unchanged = counts.get("claim card (htmx), 304", {})
            lines += [
                "",
                "Claim card polls (each clerk polls the cards of its open pages, sending back "
                f"their ETag): {polls['answered_304']:,} answered "
                f"304 Not Modified (p50 {polls['p50_304']:.0f} ms, "
                f"{unchanged.get('queries', '?')} queries), {polls['answered_200']:,} answered "
                f"200 (p50 {polls['p50_200']:.0f} ms); about {polls['saved_ms'] / 1000:.1f} s "
                "of server time saved.",
            ]
    return "\n".join(lines)


def write(results: dict) -> None:
    text = DOC.read_text()
    text = _replace(text, "machine", machine(results))
    if "bulk" in results:
        text = _replace(text, "bulk", bulk_table(results["bulk"]))
    if "pages" in results:
        text = _replace(text, "pages", pages_table(results["pages"]))
    DOC.write_text(text)
    if "import" in results:
        runs = results["import"]["runs"]
        loads = ", ".join(r["load"].split()[0] for r in runs)
        import_bench.write_doc(
            runs,
            note=f" PostgreSQL rows: `make bench`, one run each, 1-minute load average after "
            f"each import {loads}.",
        )
