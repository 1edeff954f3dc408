"""Answers to the polls of static/js/poll.js: ``304 Not Modified`` when the region the page
shows is still right (its ``If-None-Match`` is the region's ETag now), the region otherwise.

``Cache-Control: no-store`` on both: the browser's cache keeps no copy of personal data, so it
never turns a 304 into a 200 of its own copy (a request that sets ``If-None-Match`` itself gets
the 304 through, and poll.js tells htmx to leave the region as it is)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token


def csrf_secret(request: HttpRequest) -> str:
    """The session's CSRF secret, which a region's forms carry (masked): part of its ETag, so
    that a new one (a sign-in in another tab) gives the region new forms. ``get_token`` makes
    sure there is one (and that the response sets it) before it is read."""
    get_token(request)
    return request.META.get("CSRF_COOKIE") or ""


def if_none_match(request: HttpRequest) -> set[str]:
    """The ETags a request says it holds (weak ones compared as strong ones: ours are never
    weak, a proxy may have made them so)."""
    header = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def poll_answer(
    request: HttpRequest, etag: str, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """304 when the request holds ``etag`` (``render`` is not called), else ``render()``; the
    ETag and ``no-store`` on both. ``etag`` is read before what ``render`` reads: never newer
    than the region it goes with."""
    response = HttpResponseNotModified() if etag in if_none_match(request) else render()
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response
