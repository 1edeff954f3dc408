"""Scenario 2: the clerks' pages at 100,000 applicants and 1,000,000 audit events, while a
verification batch runs.

Data, written fast but through the product's own writers where it matters:
* applicants and their four claims through the CSV import engine (real audit events);
* one finished verification request per claim by one ``INSERT … SELECT`` (verdicts spread
  over the claims, the claims' verdicts set to match), no attempt rows;
* audit events up to 1,000,000 through ``audit_record_many`` (a valid hash chain), spread over
  the applicants.

Load: CLERKS threads, each a clerk with a logged-in session (login form, CSRF token), talking
to gunicorn (as docs/DEPLOYMENT.md runs it: 4 workers, 4 threads each), in two PROFILES: a
realistic think time (5–15 s between requests) and a busy one (0.5–2 s). Each profile runs
while a batch of its own is verified (2 workers, sandbox at scaled limits), starts with
WARMUP_SECONDS that are not counted, and is measured for its duration. Query counts come from
a separate pass in this process (Django's test client, ``CaptureQueriesContext``).
"""

import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.stack import Stack, load


CLERKS = 20
GUNICORN_WORKERS, GUNICORN_THREADS = 4, 4
# The batch's workers run at this CPU priority, as docs/DEPLOYMENT.md runs workers on the web
# server's machine: the upstream rate limits pace them, not the CPU.
WORKER_NICE = 10
# Each gunicorn process compiles its templates and loads its catalogues at its first requests
# (up to 0.6 s each): a server that has been up a while has done so. Not counted.
WARMUP_SECONDS = 10
FULL_PAGE_TARGET_MS = 150
FRAGMENT_TARGET_MS = 80


@dataclass(frozen=True)
class Route:
    name: str
    fragment: bool
    weight: int
    baseline: bool = False
    supervisors_only: bool = False


# Each page's p95 is compared with the one-query baseline's, measured in the same run under the
# same load (bench/baseline.py): full pages within 2x, htmx fragments within 1.5x.
BASELINE = "baseline: one query"
PAGE_BASELINE_RATIO, FRAGMENT_BASELINE_RATIO = 2.0, 1.5

ROUTES = (
    Route("baseline: bare", False, 1, baseline=True),
    Route(BASELINE, False, 1, baseline=True),
    Route("dashboard", False, 2),
    # Requested by the supervisors among the clerks (SUPERVISORS) only.
    Route("analytics", False, 2, supervisors_only=True),
    Route("applicant list", False, 2),
    Route("list partial (htmx)", True, 3),
    Route("search", False, 3),
    Route("applicant detail", False, 4),
    Route("claim card (htmx)", True, 6),
)
CARD_ROUTE = "claim card (htmx)"
# Of the CLERKS, how many are supervisors (they also open the analytics page).
SUPERVISORS = 4
# The claim cards each clerk has open and polls (its applicants' pages).
WATCHED_CARDS = 8


# --- Data -------------------------------------------------------------------------------------


def populate(applicants: int, audit_events: int, say: Callable[[str], None]) -> dict:
    from django.db import connection, transaction

    from admissions.audit import AuditEntry, audit_record_many
    from admissions.enums import AuditAction
    from admissions.models import Applicant, AuditEvent
    from bench.data import import_people, institution_and_clerk

    institution, clerk = institution_and_clerk()
    started = time.monotonic()
    chunk = 25_000
    for first in range(0, applicants, chunk):
        import_people(100_000 + first, min(chunk, applicants - first), f"P{first // chunk}")
    say(f"pages: {applicants:,} applicants imported in {time.monotonic() - started:.0f} s")

    started = time.monotonic()
    with connection.cursor() as cursor:
        # One finished request per claim; verdicts spread by claim id.
        columns, values, params = _request_columns(connection)
        cursor.execute(
            f"""
            WITH v(i, verdict) AS (VALUES (0, 'confirmed'), (1, 'confirmed'), (2, 'confirmed'),
                                          (3, 'mismatch'), (4, 'not_found'), (5, 'unavailable'))
            INSERT INTO verifications_verificationrequest ({", ".join(columns)})
            SELECT {", ".join(values)}
            FROM admissions_claim c JOIN v ON v.i = c.id %% 6
            WHERE c.institution_id = %s
            """,  # noqa: S608 - column names and expressions from the model, values bound
            [*params, institution.pk],
        )
        requests = cursor.rowcount
        cursor.execute(
            """
            UPDATE admissions_claim c SET verdict = r.verdict,
                   verified_at = now() - interval '1 day'
            FROM verifications_verificationrequest r
            WHERE r.claim_id = c.id AND c.institution_id = %s
            """,
            [institution.pk],
        )
    say(f"pages: {requests:,} verification requests in {time.monotonic() - started:.0f} s")

    started = time.monotonic()
    ids = list(Applicant.objects.filter(institution=institution).values_list("id", flat=True))
    rng = random.Random(7)
    missing = audit_events - AuditEvent.objects.count()
    actions = (AuditAction.VIEWED, AuditAction.VERIFICATION_REQUESTED, AuditAction.EDITED)
    while missing > 0:
        n = min(100_000, missing)
        entries = []
        for _ in range(n):
            applicant = rng.choice(ids)
            entries.append(
                AuditEntry(
                    action=rng.choice(actions),
                    object_type="applicant",
                    object_id=applicant,
                    applicant_id=applicant,
                    details={"bench": True},
                )
            )
        with transaction.atomic():
            audit_record_many(actor=clerk, institution=institution, entries=entries)
        missing -= n
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load, at once: statistics, and the visibility map
        # that lets counts use index-only scans.
        cursor.execute("VACUUM ANALYZE")
    total = AuditEvent.objects.count()
    say(f"pages: {total:,} audit events (valid chain) in {time.monotonic() - started:.0f} s")
    return {"applicants": len(ids), "requests": requests, "audit_events": total}


def _request_columns(connection) -> tuple[list[str], list[str], list]:
    """Columns and SQL expressions of a finished request built from claim ``c``; any other
    column gets NULL or its field's default, so that new columns do not break the bench."""
    from verifications.models import VerificationRequest

    known = {
        "institution_id": "c.institution_id",
        "claim_id": "c.id",
        "source": "CASE c.kind WHEN 'scolarite' THEN 'api_particulier' "
        "WHEN 'certification' THEN 'certifinfo' ELSE c.kind END",
        "state": "'done'",
        "trigger": "'batch'",
        "attempt_count": "1",
        "verdict": "v.verdict",
        "reason_code": "'bench'",
        "reason": "'bench'",
        # Finished over the last year (the analytics page's periods then differ), one to two
        # days ago for a third of them; request to verdict from 2 s to about 3 min.
        "created_at": "now() - interval '1 day' - (c.id %% 3 * 7 + c.id %% 365) * interval '1 day'"
        " - (c.id %% 86400) * interval '1 second'",
        "finished_at": "now() - interval '1 day' - (c.id %% 3 * 7 + c.id %% 365) * interval '1 day'"
        " - (c.id %% 86400) * interval '1 second' + (2 + c.id %% 7 * c.id %% 173) * interval"
        " '1 second'",
    }
    columns, values, params = [], [], []
    for field in VerificationRequest._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in known:
            values.append(known[field.column])
        elif field.null:
            values.append("NULL")
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return columns, values, params


# --- Load -------------------------------------------------------------------------------------


def _targets() -> dict:
    """Ids and search terms the clerks pick from (a sample of the whole table)."""
    from admissions.models import Applicant
    from bench.data import institution_and_clerk, supervisor_of
    from verifications.models import Claim

    institution, _clerk = institution_and_clerk()
    supervisor_of(institution)  # logged in by the SUPERVISORS among the clerks
    applicants = list(
        Applicant.objects.filter(institution=institution)
        .order_by("?")
        .values_list("id", "birth_name")[:2000]
    )
    claims = list(
        Claim.objects.filter(applicant_id__in=[a for a, _n in applicants[:500]]).values_list(
            "id", flat=True
        )
    )
    return {
        "applicants": [a for a, _n in applicants],
        "names": [n[:5] for _a, n in applicants],
        "claims": claims,
    }


def _path(
    route: Route, targets: dict, rng: random.Random, claim: int | None = None
) -> tuple[str, dict]:
    htmx = {"HX-Request": "true"}
    match route.name:
        case "baseline: bare":
            return "/__bench__/bare/", {}
        case "baseline: one query":
            return f"/__bench__/one-query/{rng.choice(targets['applicants'])}/", {}
        case "dashboard":
            return "/", {}
        case "analytics":
            return f"/analyses/?jours={rng.choice([7, 30, 90, 365])}", {}
        case "applicant list":
            return f"/candidats/?page={rng.randint(1, 50)}", {}
        case "list partial (htmx)":
            sort = rng.choice(["nom", "recent", "-nom"])
            return f"/candidats/?sort={sort}&page={rng.randint(1, 20)}", htmx | {
                "HX-Target": "applicant-results"
            }
        case "search":
            return f"/candidats/?q={rng.choice(targets['names'])}", {}
        case "applicant detail":
            return f"/candidats/{rng.choice(targets['applicants'])}/", {}
        case "claim card (htmx)":
            return f"/declarations/{claim or rng.choice(targets['claims'])}/carte/", htmx
    raise ValueError(route.name)


def _login(session, base: str, username: str = "bench-clerk") -> None:
    headers = {"X-Forwarded-Proto": "https", "Origin": base.replace("http:", "https:")}
    page = session.get(f"{base}/connexion/", headers=headers, timeout=120)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not token:
        raise SystemExit(f"no CSRF token on the login page ({page.status_code})")
    # The cookies are Secure (DEBUG off, behind a TLS proxy): send them over loopback HTTP.
    for cookie in session.cookies:
        cookie.secure = False
    answer = session.post(
        f"{base}/connexion/",
        data={
            "username": username,
            "password": "bench-password",
            "csrfmiddlewaretoken": token[1],
        },
        headers=headers | {"Referer": f"{base.replace('http:', 'https:')}/connexion/"},
        allow_redirects=False,
        timeout=120,
    )
    for cookie in session.cookies:
        cookie.secure = False
    if answer.status_code != 302:
        raise SystemExit(f"login failed: {answer.status_code} {answer.text[:300]}")


def clerk_load(
    base: str,
    targets: dict,
    duration: float,
    clerks: int,
    warmup: float = 0,
    think: tuple[float, float] = (0.5, 2.0),
) -> list[tuple]:
    """(route, milliseconds, status) of every request the clerks made in ``duration`` seconds
    after the first ``warmup`` seconds (whose requests are made, not counted)."""
    import requests

    samples: list[tuple] = []
    lock = threading.Lock()
    weights = [r.weight for r in ROUTES]
    clerk_weights = [0 if r.supervisors_only else r.weight for r in ROUTES]

    # Log every clerk in first, one after the other: a login hashes a password (PBKDF2, on
    # purpose slow), which is not what is measured here.
    sessions = []
    for n in range(clerks):
        session = requests.Session()
        _login(session, base, "bench-supervisor" if n < SUPERVISORS else "bench-clerk")
        session.headers["X-Forwarded-Proto"] = "https"
        # Every answer sets the session cookie again, Secure: a cookie jar would stop sending
        # it over loopback HTTP and the clerk would be redirected to the login page. Send the
        # cookies explicitly instead.
        sessions.append((session, {c.name: c.value for c in session.cookies}))
    counted_from = time.monotonic() + warmup
    deadline = counted_from + duration

    def clerk(seed: int) -> None:
        rng = random.Random(seed)
        session, cookies = sessions[seed]
        # The cards a clerk has open (their applicants' pages): their polls send back the
        # ETag of the card they show, as static/js/poll.js does, and get a 304 while the card
        # is unchanged.
        watched = rng.sample(targets["claims"], k=min(WATCHED_CARDS, len(targets["claims"])))
        etags: dict[int, str] = {}
        time.sleep(rng.uniform(0, think[1]))
        while time.monotonic() < deadline:
            route = rng.choices(ROUTES, weights if seed < SUPERVISORS else clerk_weights)[0]
            claim = rng.choice(watched) if route.name == CARD_ROUTE else None
            path, headers = _path(route, targets, rng, claim=claim)
            if claim in etags:
                headers = headers | {"If-None-Match": etags[claim]}
            started = time.perf_counter()
            try:
                # Anything but a 200 (a redirect to the login page included) is an error; a
                # card's 304 is its answer.
                response = session.get(
                    base + path,
                    headers=headers,
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=30,
                )
                status = response.status_code
                if claim is not None and status == 200 and response.headers.get("ETag"):
                    etags[claim] = response.headers["ETag"]
            except requests.RequestException as exc:
                status = exc.__class__.__name__
            elapsed = 1000 * (time.perf_counter() - started)
            if time.monotonic() >= counted_from:
                with lock:
                    samples.append((route.name, elapsed, status))
            time.sleep(rng.uniform(*think))

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summarise(samples: list[tuple]) -> list[dict]:
    rows = []
    for route in ROUTES:
        times = [ms for name, ms, _s in samples if name == route.name]
        answered = {200, 304} if route.name == CARD_ROUTE else {200}
        errors = sum(1 for name, _ms, s in samples if name == route.name and s not in answered)
        target = FRAGMENT_TARGET_MS if route.fragment else FULL_PAGE_TARGET_MS
        p95 = _percentile(times, 0.95)
        rows.append(
            {
                "route": route.name,
                "fragment": route.fragment,
                "baseline": route.baseline,
                "requests": len(times),
                "errors": errors,
                "p50": statistics.median(times) if times else float("nan"),
                "p95": p95,
                "p99": _percentile(times, 0.99),
                "slowest": max(times, default=float("nan")),
                "target": target,
                "ratio": p95 / target,
            }
        )
    base = next(r for r in rows if r["route"] == BASELINE)
    for row in rows:
        row["base_p50_ratio"] = row["p50"] / base["p50"]
        row["base_p95_ratio"] = row["p95"] / base["p95"]
        row["base_target"] = (
            None
            if row["baseline"]
            else FRAGMENT_BASELINE_RATIO
            if row["fragment"]
            else PAGE_BASELINE_RATIO
        )
    return rows


def card_polls(samples: list[tuple]) -> dict:
    """The cards' polls answered 304 (unchanged: nothing rendered) and 200, with their times:
    what answering unchanged cards with 304 saves (static/js/poll.js)."""
    polls = {
        status: [ms for name, ms, s in samples if name == CARD_ROUTE and s == status]
        for status in (200, 304)
    }
    return {
        "answered_200": len(polls[200]),
        "answered_304": len(polls[304]),
        "share_304": len(polls[304]) / max(1, len(polls[200]) + len(polls[304])),
        "p50_200": statistics.median(polls[200]) if polls[200] else float("nan"),
        "p50_304": statistics.median(polls[304]) if polls[304] else float("nan"),
        # Server time the 304s saved, at the median difference.
        "saved_ms": len(polls[304])
        * max(
            0.0,
            (statistics.median(polls[200]) if polls[200] else 0.0)
            - (statistics.median(polls[304]) if polls[304] else 0.0),
        ),
    }


def query_counts(targets: dict) -> list[dict]:
    """Queries and in-process time per route, one request each after a warm-up."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.data import institution_and_clerk, supervisor_of

    institution, clerk = institution_and_clerk()
    client = Client(HTTP_HOST="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
    client.force_login(clerk)
    supervising = Client(HTTP_HOST="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
    supervising.force_login(supervisor_of(institution))
    rng = random.Random(3)
    rows = []
    card = Route(f"{CARD_ROUTE}, 304", True, 0)  # the same card again, unchanged
    card_etag = ""
    path, headers = "", {}
    for route in (*ROUTES, card):
        if route.baseline:
            continue  # served by gunicorn's bench.urls only
        if route is card:
            headers = headers | {"If-None-Match": card_etag}
        else:
            path, headers = _path(route, targets, rng)
        asking = supervising if route.supervisors_only else client
        asking.get(path, headers=headers)  # warm-up (templates, caches)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = asking.get(path, headers=headers)
            elapsed = 1000 * (time.perf_counter() - started)
        if route.name == CARD_ROUTE:
            card_etag = response.get("ETag", "")
        slowest = max(queries.captured_queries, key=lambda q: float(q["time"]), default=None)
        rows.append(
            {
                "route": route.name,
                "path": path,
                "status": response.status_code,
                "queries": len(queries),
                "server_ms": elapsed,
                "slowest_query_ms": 1000 * float(slowest["time"]) if slowest else 0.0,
                "slowest_query": slowest["sql"][:300] if slowest else "",
            }
        )
    return rows


# --- The scenario -----------------------------------------------------------------------------


def _existing_data(applicants: int, audit_events: int) -> dict | None:
    """What a previous run left in the database, if it is enough for this one."""
    from admissions.models import Applicant, AuditEvent
    from verifications.models import VerificationRequest

    data = {
        "applicants": Applicant.objects.count(),
        "requests": VerificationRequest.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }
    if data["applicants"] >= applicants and data["audit_events"] >= audit_events:
        return data
    return None


@dataclass(frozen=True)
class Profile:
    """How the clerks work: seconds between a clerk's requests, and how long it is measured."""

    name: str
    think: tuple[float, float]
    duration: int


PROFILES = (
    # A clerk reading each file before the next click: 5 to 15 s (about 2 requests/s for 20).
    Profile("realistic", think=(5.0, 15.0), duration=180),
    # The same clerks clicking as fast as pages come: 0.5 to 2 s (about 15 requests/s),
    # the load of 100 to 150 clerks working as above.
    Profile("busy", think=(0.5, 2.0), duration=90),
)


def run(stack: Stack, *, quick: bool, say: Callable[[str], None], reuse_data: bool = False) -> dict:
    from bench import bulk

    applicants = 10_000 if quick else 100_000
    events = 100_000 if quick else 1_000_000
    data = _existing_data(applicants, events) if reuse_data else None
    if data is None:
        data = populate(applicants, events, say)
    else:
        say(f"pages: reusing the last run's data: {data}")
    targets = _targets()

    say("pages: query counts (separate pass, in-process)")
    counts = query_counts(targets)
    for row in counts:
        say(f"  {row['route']:<22} {row['queries']:3d} queries {row['server_ms']:7.1f} ms")

    stack.start_gunicorn(workers=GUNICORN_WORKERS, threads=GUNICORN_THREADS)
    # A batch running meanwhile: sandbox, 2 workers, beat, scaled limits.
    stack.stop_cluster()
    stack.flush_redis()
    stack.extra_env = bulk.vigie_env(bulk.SCALED)
    stack.start_sandbox(bulk.sandbox_knobs(bulk.SCALED))
    stack.start_workers(2, nice=WORKER_NICE)
    stack.start_beat()
    profiles = []
    for profile in PROFILES:
        duration = 20 if quick else profile.duration
        profiles.append(_measure(stack, targets, profile, duration, say))
    stack.stop("gunicorn")
    return {
        "data": data,
        "clerks": CLERKS,
        "warmup": WARMUP_SECONDS,
        "gunicorn": {"workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS},
        "worker_nice": WORKER_NICE,
        "queries": counts,
        "profiles": profiles,
    }


def _measure(stack: Stack, targets: dict, profile: Profile, duration: int, say) -> dict:
    from django.utils import timezone

    # A batch that outlasts the measure: Certif Info, two calls a check at 10 calls/s, takes
    # 10 s for 20 claims of the four kinds.
    batch, launch = _launch_batch(20 * (WARMUP_SECONDS + duration))
    say(
        f"pages, {profile.name}: a batch of {launch['claims']:,} claims launched: the request "
        f"answers in {launch['request_ms']:.0f} ms, the worker prepares it in "
        f"{launch['prepare_s']:.1f} s"
    )
    load_started = timezone.now()
    load_before = load()
    say(
        f"pages, {profile.name}: {CLERKS} clerks, {profile.think[0]}-{profile.think[1]} s "
        f"between requests, {WARMUP_SECONDS} s (not counted) + {duration} s; load {load_before}"
    )
    samples = clerk_load(
        stack.web_url, targets, duration, CLERKS, warmup=WARMUP_SECONDS, think=profile.think
    )
    load_after = load()
    verified = _batch_progress(batch, load_started)
    rows = summarise(samples)
    for row in rows:
        say(
            f"  {row['route']:<22} n={row['requests']:4d} p50 {row['p50']:6.1f} "
            f"p95 {row['p95']:6.1f} p99 {row['p99']:6.1f} max {row['slowest']:6.0f} ms  "
            f"p95 {row['base_p95_ratio']:.2f}x baseline  errors {row['errors']}"
        )
    polls = card_polls(samples)
    say(
        f"  card polls: {polls['answered_304']} answered 304 (p50 {polls['p50_304']:.1f} ms), "
        f"{polls['answered_200']} answered 200 (p50 {polls['p50_200']:.1f} ms); "
        f"{polls['saved_ms'] / 1000:.1f} s of server time saved"
    )
    return {
        "name": profile.name,
        "think": list(profile.think),
        "duration": duration,
        "routes": rows,
        "card_polls": polls,
        "batch_during_load": verified,
        "batch_launch": launch,
        "load_before": load_before,
        "load_after": load_after,
        "errors": sum(r["errors"] for r in rows),
        "requests": len(samples),
    }


def _launch_batch(claims: int) -> tuple[int, dict]:
    """A batch of ``claims`` claims, launched as the batch page launches one: the request's
    part (``batch_verification_start``: one count, the batch row) and the worker's
    (``batch_prepare``: the requests, in parts), each timed."""
    from bench.data import import_people, institution_and_clerk
    from verifications.services.batches import batch_prepare, batch_verification_start

    _institution, clerk = institution_and_clerk()
    # A tag of its own each time, so that a run on reused data imports new file references.
    imported = import_people(50_000, claims // 4, f"PB{time.strftime('%H%M%S')}")
    started = time.perf_counter()
    batch = batch_verification_start(
        acting_user=clerk,
        cohort={"batch_id": imported.pk},
        label="bench: batch during the page load",
    )
    request_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    prepared = batch_prepare(batch_id=batch.pk)
    prepare_s = time.perf_counter() - started
    return batch.pk, {
        "claims": prepared.total if prepared else 0,
        "request_ms": request_ms,
        "prepare_s": prepare_s,
    }


def _batch_progress(batch_id: int, load_started) -> dict:
    """How far the batch got, and whether it ran all along: seconds from the start of the
    load (warm-up included) to its last verdict."""
    from django.db.models import Max

    from verifications.enums import RequestState
    from verifications.models import VerificationRequest

    requests = VerificationRequest.objects.filter(batch_id=batch_id)
    last = requests.aggregate(last=Max("finished_at"))["last"]
    return {
        "total": requests.count(),
        "done": requests.filter(state=RequestState.DONE).count(),
        "last_verdict_after": (last - load_started).total_seconds() if last else None,
    }
