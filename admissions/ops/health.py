"""``/healthz`` and ``/readyz``: JSON for load balancers and uptime checks.

``/healthz`` says the process answers: no database, no cache, nothing else (200 always).

``/readyz`` runs every check and answers ``{"status", "checks": [{"name", "ok", "required",
"detail"}]}``: 503 and ``"not_ready"`` when a *required* check fails (``VIGIE_READYZ_REQUIRED``:
the database, the migrations, the cache and the broker by default), 200 otherwise, with
``"degraded"`` when a check that is not required fails (the dispatcher has not run lately, a
source's breaker is open): a load balancer should not take every web process out because beat
stopped or a government API is down, while an uptime check reading the body sees it.

Details are short English phrases: never a URL, a host name, a password or an exception's
message (a driver's message may name the host), only the exception's class.

Both are answered by ``ProbeMiddleware`` before the session, CSRF, locale and authentication
middleware (``admissions.ops.middleware``): nothing is read from or written to the session, no
audit event is written.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from kombu import Connection

from admissions.ops import heartbeat


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = False


def _failed(exc: BaseException) -> str:
    return f"failed ({type(exc).__name__})"


def check_database() -> tuple[bool, str]:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, "reachable"


# Once every migration is applied, it stays so for this process's code: checked once.
_migrations_applied = False


def check_migrations() -> tuple[bool, str]:
    global _migrations_applied
    if _migrations_applied:
        return True, "all applied"
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return False, f"{len(plan)} not applied"
    _migrations_applied = True
    return True, "all applied"


def check_cache() -> tuple[bool, str]:
    key = f"vigie:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key)
    cache.delete(key)
    return (True, "read and write") if found == "1" else (False, "written value not read back")


def broker_connection() -> Connection:
    """A connection to the broker the settings name (the embedded SQLite one included), with
    a short connect timeout: a probe must answer before the load balancer gives up on it."""
    return Connection(
        settings.CELERY_BROKER_URL,
        transport=getattr(settings, "CELERY_BROKER_TRANSPORT", None),
        transport_options=dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})),
        connect_timeout=2,
    )


def check_broker() -> tuple[bool, str]:
    with broker_connection() as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=2
        )
        client = getattr(conn.default_channel, "client", None)
        if client is not None and hasattr(client, "ping"):
            client.ping()
        scheme = settings.CELERY_BROKER_URL.partition(":")[0]  # no host, no password
        return True, f"{scheme} broker reachable"


def check_dispatcher() -> tuple[bool, str]:
    tick = heartbeat.last(heartbeat.DISPATCH_TICK)
    limit = settings.VIGIE_READYZ_DISPATCH_MAX_AGE
    if tick is None:
        return False, "no dispatcher tick recorded yet (is beat running?)"
    age = time.time() - float(tick["at"])
    if age > limit:
        return False, f"last dispatcher tick {age:.0f} s ago (more than {limit:.0f} s)"
    return True, f"last dispatcher tick {age:.0f} s ago"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "?"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H:%M:%S UTC")


def source_checks() -> list[tuple[str, bool, str]]:
    """One check per source: its breaker closed and no 429 cooldown."""
    from verifications.providers.limits import get_limiter

    limiter = get_limiter()
    found = []
    for source in limiter.sources():
        state = limiter.breaker(source, with_rates=False)
        if state.down:
            detail = f"breaker {state.state.replace('_', '-')} since {_when(state.opened_at)}"
            if state.last_error:
                detail += f", last error {state.last_error}"
            found.append((source, False, detail))
        elif state.cooldown_until is not None:
            found.append((source, False, f"paused until {_when(state.cooldown_until)} (429)"))
        else:
            found.append((source, True, "breaker closed"))
    return found


CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "dispatcher": check_dispatcher,
}


def _run(name: str, check: Callable[[], tuple[bool, str]]) -> Check:
    required = name in settings.VIGIE_READYZ_REQUIRED
    try:
        ok, detail = check()
    except Exception as exc:
        return Check(name, False, _failed(exc), required)
    return Check(name, ok, detail, required)


def readiness() -> tuple[str, list[Check]]:
    """(status, checks): "ready", "degraded" (a check that is not required failed) or
    "not_ready" (a required one failed)."""
    checks = [_run(name, check) for name, check in CHECKS.items()]
    required_sources = "sources" in settings.VIGIE_READYZ_REQUIRED
    try:
        checks += [
            Check(f"source:{source}", ok, detail, required_sources)
            for source, ok, detail in source_checks()
        ]
    except Exception as exc:
        checks.append(Check("sources", False, f"limiter {_failed(exc)}", required_sources))
    if any(not c.ok and c.required for c in checks):
        return "not_ready", checks
    if any(not c.ok for c in checks):
        return "degraded", checks
    return "ready", checks


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    status, checks = readiness()
    return JsonResponse(
        {"status": status, "checks": [asdict(c) for c in checks]},
        status=503 if status == "not_ready" else 200,
    )
