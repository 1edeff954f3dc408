"""Prometheus metrics (prometheus_client), served by ``/metrics``.

Two kinds:

* **Counted where they happen**, in whichever process that is (gunicorn workers, Celery pool
  processes), through prometheus_client's multiprocess mode: each process writes its counters
  and histograms to ``PROMETHEUS_MULTIPROC_DIR`` (``VIGIE_METRICS_DIR``, ``var/metrics`` by
  default) and the view adds up every process of the machine. HTTP requests (by route *name*,
  never the path) and upstream calls (by source and HTTP status, with their latency).
* **Read at scrape time** (``ScrapeCollector``), from the database, the limiter, the broker and
  the heartbeats: open verification requests by source and state (one aggregate query), each
  running batch's progress (one aggregate query), breaker states and limiter usage per source,
  the broker's queue lengths, the dispatcher's last tick, the audit chains' last verification.
  Each part that fails is skipped and reported by ``vigie_metrics_part_up{part}``: a scrape
  answers even when Redis or the database does not.

Labels are sources, states, route names, statuses and ids (batch, institution): never a name,
a file reference or a path.
"""

import hmac
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from admissions.ops import heartbeat, metrics_dir


logger = logging.getLogger(__name__)

# --- Counted where they happen ----------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "vigie_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "vigie_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPSTREAM_CALLS = Counter(
    "vigie_upstream_calls",
    "Calls to the government APIs, by source and HTTP status (or why no answer came).",
    ["source", "status"],
)
UPSTREAM_DURATION = Histogram(
    "vigie_upstream_call_duration_seconds",
    "Duration of calls to the government APIs, by source.",
    ["source"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
UPSTREAM_RATE_LIMITED = Counter(
    "vigie_upstream_rate_limited",
    "429 answers from the government APIs, by source.",
    ["source"],
)

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_CODE = re.compile(r"^[a-z_]{1,32}$")


def observe_http(route: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def observe_upstream_calls(source: str, calls, outcome: str = "") -> None:
    """Count the upstream calls a check made (``verifications.pipeline.record``, where its
    attempts are recorded). A check refused before any call (source not configured) made
    none."""
    if outcome == "skipped_not_configured":
        return
    for call in calls:
        if call.http_status is not None:
            status = str(call.http_status)
        else:
            error = str(call.redacted.get("error") or "")
            status = error if _CODE.match(error) else "no_answer"
        UPSTREAM_CALLS.labels(source, status).inc()
        UPSTREAM_DURATION.labels(source).observe(max(call.duration_ms, 0) / 1000)
        if call.http_status == 429:
            UPSTREAM_RATE_LIMITED.labels(source).inc()


# --- Read at scrape time ----------------------------------------------------------------------


def _requests() -> Iterator[GaugeMetricFamily]:
    from verifications.enums import OPEN_STATES, RequestState, Source
    from verifications.models import VerificationRequest

    now = timezone.now()
    due = Q(state=RequestState.PENDING) & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    rows = (
        VerificationRequest.objects.filter(state__in=OPEN_STATES)
        .order_by()
        .values("source", "state")
        .annotate(n=Count("id"), due=Count("id", filter=due))
    )
    counts = {(s.value, st.value): 0 for s in Source for st in OPEN_STATES}
    due_by_source = {s.value: 0 for s in Source}
    for row in rows:
        counts[(row["source"], row["state"])] = row["n"]
        due_by_source[row["source"]] = due_by_source.get(row["source"], 0) + row["due"]
    by_state = GaugeMetricFamily(
        "vigie_verification_requests",
        "Open verification requests (pending, running), by source and state.",
        labels=["source", "state"],
    )
    for (source, state), n in sorted(counts.items()):
        by_state.add_metric([source, state], n)
    yield by_state
    due_family = GaugeMetricFamily(
        "vigie_verification_requests_due",
        "Pending verification requests whose time has come (the backlog), by source.",
        labels=["source"],
    )
    for source, n in sorted(due_by_source.items()):
        due_family.add_metric([source], n)
    yield due_family


def _batches() -> Iterator[GaugeMetricFamily]:
    from verifications.enums import BatchKind, BatchStatus, RequestState
    from verifications.models import VerificationRequest

    rows = (
        VerificationRequest.objects.filter(
            batch__kind=BatchKind.VERIFICATION,
            batch__status=BatchStatus.RUNNING,
            superseded=False,
        )
        .order_by()
        .values("batch_id", "batch__institution_id", "batch__created_at")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(state=RequestState.DONE)),
            last=Max("finished_at"),
        )
    )
    size = GaugeMetricFamily(
        "vigie_batch_requests",
        "Checks of each running verification batch.",
        labels=["batch", "institution"],
    )
    done = GaugeMetricFamily(
        "vigie_batch_requests_done",
        "Checks of each running verification batch that are done.",
        labels=["batch", "institution"],
    )
    last = GaugeMetricFamily(
        "vigie_batch_last_progress_timestamp_seconds",
        "When a check of each running verification batch last ended (its start if none has).",
        labels=["batch", "institution"],
    )
    for row in rows:
        labels = [str(row["batch_id"]), str(row["batch__institution_id"])]
        size.add_metric(labels, row["total"])
        done.add_metric(labels, row["done"])
        last.add_metric(labels, (row["last"] or row["batch__created_at"]).timestamp())
    yield from (size, done, last)


def _sources() -> Iterator[GaugeMetricFamily]:
    from verifications.providers.limits import get_limiter

    states = get_limiter().breakers()
    breaker = GaugeMetricFamily(
        "vigie_source_breaker_state",
        "Each source's circuit breaker: 1 for its current state.",
        labels=["source", "state"],
    )
    down = GaugeMetricFamily(
        "vigie_source_down",
        "1 when the source's breaker is open or half-open (the source is taken as down).",
        labels=["source"],
    )
    failures = GaugeMetricFamily(
        "vigie_source_breaker_failures",
        "Distinct requests whose latest outcome in the breaker's window is a failure.",
        labels=["source"],
    )
    cooldown = GaugeMetricFamily(
        "vigie_source_cooldown_seconds",
        "Seconds left of the source's pause after a 429 (0 when none).",
        labels=["source"],
    )
    usage = GaugeMetricFamily(
        "vigie_limiter_usage_ratio",
        "Share of each rate limit in use now (the busiest bucket of each scope), by source, "
        "scope (source, token, ip, server) and window.",
        labels=["source", "scope", "window_seconds"],
    )
    now = time.time()
    for source, state in sorted(states.items()):
        for name in ("closed", "open", "half_open"):
            breaker.add_metric([source, name], 1 if state.state == name else 0)
        down.add_metric([source], 1 if state.down else 0)
        failures.add_metric([source], state.failures)
        left = (state.cooldown_until - now) if state.cooldown_until else 0.0
        cooldown.add_metric([source], max(left, 0.0))
        busiest: dict[tuple[str, str], float] = {}
        for use in state.rates:
            key = (use.scope.partition(":")[0], f"{use.window:g}")
            ratio = use.used / use.limit if use.limit else 0.0
            busiest[key] = max(busiest.get(key, 0.0), ratio)
        for (scope, window), ratio in sorted(busiest.items()):
            usage.add_metric([source, scope, window], ratio)
    yield from (breaker, down, failures, cooldown, usage)


def broker_queue_lengths() -> dict[str, int]:
    """Messages waiting in each Celery queue: LLEN of the queue's lists with the Redis broker
    (one per priority level), the queue's rows with the embedded SQLite broker."""
    from admissions.celery import CeleryQueue
    from admissions.ops.health import broker_connection

    with broker_connection() as conn:
        channel = conn.default_channel
        size = getattr(channel, "_size", None)
        if size is None or conn.transport_cls == "memory":
            return {}
        return {queue.value: int(size(queue.value)) for queue in CeleryQueue}


def _broker() -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "vigie_broker_queue_length",
        "Task messages waiting in each Celery queue.",
        labels=["queue"],
    )
    for queue, n in sorted(broker_queue_lengths().items()):
        family.add_metric([queue], n)
    yield family


def _heartbeats() -> Iterator[GaugeMetricFamily]:
    tick = heartbeat.last(heartbeat.DISPATCH_TICK)
    yield GaugeMetricFamily(
        "vigie_dispatcher_last_tick_timestamp_seconds",
        "When the dispatcher (beat's verifications.dispatch tick) last ran; 0 if never.",
        value=float(tick["at"]) if tick else 0.0,
    )
    audit = heartbeat.last(heartbeat.AUDIT_CHAIN_CHECK)
    yield GaugeMetricFamily(
        "vigie_audit_chain_last_verified_timestamp_seconds",
        "When the audit chains were last verified (admissions.audit_chain_check); 0 if never.",
        value=float(audit["at"]) if audit else 0.0,
    )
    yield GaugeMetricFamily(
        "vigie_audit_chain_intact",
        "1 if every audit chain was intact at the last verification, 0 if one was broken "
        "(or none was verified yet).",
        value=1 if audit and audit.get("intact") else 0,
    )
    yield GaugeMetricFamily(
        "vigie_audit_heads_untimestamped",
        "Chains whose newest signed head had no RFC 3161 time-stamp after the last verification "
        "(0 without a time-stamping authority).",
        value=int((audit or {}).get("untimestamped") or 0),
    )


PARTS = {
    "requests": _requests,
    "batches": _batches,
    "sources": _sources,
    "broker": _broker,
    "heartbeats": _heartbeats,
}


class ScrapeCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "vigie_metrics_part_up",
            "1 if this part of the scrape could be read (database, limiter, broker...).",
            labels=["part"],
        )
        for name, part in PARTS.items():
            try:
                families = list(part())
            except Exception as exc:
                logger.warning("metrics: %s could not be read (%s)", name, type(exc).__name__)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


# --- The endpoint -----------------------------------------------------------------------------


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def render() -> bytes:
    """The exposition text: every process's counters, then what is read now."""
    registry = CollectorRegistry()
    registry.register(ScrapeCollector())
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir())
        with metrics_dir.locked(multiprocess_dir(), shared=True):  # not while a start folds
            return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(registry)


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(cidr, strict=False) for cidr in settings.VIGIE_METRICS_ALLOWED_NETWORKS
    ]


def _address_allowed(request: HttpRequest) -> bool:
    from admissions.infra.client_address import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    return any(address in network for network in _networks())


def _token_matches(request: HttpRequest) -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    expected = settings.VIGIE_METRICS_TOKEN.encode()
    return hmac.compare_digest(value.strip().encode(), expected)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Off (404) unless ``VIGIE_METRICS_TOKEN`` or ``VIGIE_METRICS_ALLOWED_NETWORKS`` is set;
    with both, both are required."""
    token = settings.VIGIE_METRICS_TOKEN
    networks = settings.VIGIE_METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    if networks and not _address_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    if token and not _token_matches(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="vigie-metrics"'
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
