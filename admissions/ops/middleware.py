"""The request id, the log context, the HTTP metrics and the probes' short way through.

Order in ``MIDDLEWARE`` (settings, "Operations"): ``RequestIdMiddleware`` first (every answer
carries ``X-Request-ID``, every log record of the request its id); ``HttpMetricsMiddleware``
and ``ProbeMiddleware`` right after ``NoStoreMiddleware`` (static files, answered by WhiteNoise,
are not counted), before the session; ``LogUserMiddleware`` last, once the user is known.
"""

import time
from collections.abc import Callable
from typing import cast

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csp import ContentSecurityPolicyMiddleware

from admissions.ops import context


REQUEST_ID_HEADER = "X-Request-ID"


class TaggedRequest(HttpRequest):
    """What these middleware add to a request: its id (``RequestIdMiddleware``) and, for a
    probe answered before URL resolution, the probe's route name (``ProbeMiddleware``)."""

    request_id: str
    vigie_route: str


class RequestIdMiddleware:
    """One id per request: the caller's ``X-Request-ID`` if it is a plausible id (a reverse
    proxy's), else a new one. Sent back in the answer's ``X-Request-ID``, set on every log
    record of the request, and carried in the headers of the Celery tasks it sends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = (
            context.valid_request_id(request.headers.get(REQUEST_ID_HEADER))
            or context.new_request_id()
        )
        cast(TaggedRequest, request).request_id = request_id
        # Not unbound on the way out: Django logs 4xx and 5xx answers ("Not Found: ...") after
        # the last middleware has returned. Cleared when the answer is closed instead
        # (request_finished, below), and set afresh by the next request anyway.
        context.clear()
        context.bind(request_id=request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _clear_log_context(**kwargs: object) -> None:
    context.clear()


request_finished.connect(_clear_log_context, dispatch_uid="vigie-log-context")


class LogUserMiddleware:
    """Puts the user's id and institution id (never a name) in the log context. Last in the
    chain: the session middleware has already loaded the user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context.bind(user_id=user.pk, institution_id=getattr(user, "institution_id", None))
        return self.get_response(request)


class HttpMetricsMiddleware:
    """Counts each answer by route name (the URL pattern's name, never the path), method and
    status, and its latency."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from admissions.ops import metrics

        self.get_response = get_response
        self.observe = metrics.observe_http

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else getattr(request, "vigie_route", "")
        self.observe(
            route or "unmatched",
            request.method or "",
            response.status_code,
            time.perf_counter() - started,
        )
        return response


class ProbeMiddleware:
    """Answers ``/healthz``, ``/readyz`` and ``/metrics`` before the session, CSRF, locale and
    authentication middleware: a probe never reads or writes a session, never gets a CSRF
    cookie, a locale redirect or a login redirect, and never writes an audit event. The same
    views are in the URL configuration (``admissions.ops.urls``: names for ``reverse`` and for
    the route matrix); the answers get the same CSP and X-Frame-Options headers as the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from admissions.ops.urls import PROBES

        self.get_response = get_response
        self.probes = {
            f"/{path}": (name, XFrameOptionsMiddleware(ContentSecurityPolicyMiddleware(view)))
            for path, view, name in PROBES
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        name, handler = probe
        cast(TaggedRequest, request).vigie_route = name
        # The probes are plain views, so their wrapped handler answers at once (not awaitable).
        return cast(HttpResponse, handler(request))
