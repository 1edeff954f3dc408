"""Error pages the root URLconf names (``handler403``, ``handler404``)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404.html, in DEBUG too (``admissions.not_found``): never the exception's text."""
    return render(request, "404.html", status=404)
