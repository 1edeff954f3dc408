"""The product's own 404 page, in DEBUG too.

Outside DEBUG, Django answers an ``Http404`` with the ``handler404`` view (our 404.html). Under
DEBUG (``make run``) it shows its technical page instead: the URL patterns, the exception's
text, a yellow developer page where a clerk opening another institution's applicant should
read « Page introuvable ». This middleware answers an ``Http404`` raised by a view with the
product's page whatever DEBUG says. A path that matches no URL pattern never reaches a view:
it keeps Django's answer (the technical page under DEBUG, which helps a developer).
"""

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse

from admissions.views.errors import page_not_found


class NotFoundPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
