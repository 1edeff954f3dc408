"""Session expiry, seen from the clerk's side.

A view behind ``login_required`` answers an anonymous request with a 302 to the login page
(with ``next``). For a full page that is right, and when the browser still sent a session
cookie (its session expired on the server), the login page says why: « Votre session a
expiré… ». Logging out also ends on the login page, which then says « Vous êtes déconnecté »
(``admissions.views.login.LogoutView``), not that the session expired. For an htmx
request (a claim card polling every two seconds, a button posting) htmx would follow the 302
and swap the login page into the card; instead the answer becomes ``HX-Redirect`` to the login
page, with ``next`` set to the page the clerk was on (not the fragment's URL), so that htmx
loads the login page in full and brings the clerk back afterwards.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect


class SessionExpiryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not self._is_login_redirect(request, response):
            return response
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            messages.warning(
                request, _("Votre session a expiré : reconnectez-vous pour continuer.")
            )
        htmx = getattr(request, "htmx", None)
        if not htmx:
            return response
        next_path = htmx.current_url_abs_path or request.get_full_path()
        login = redirect_to_login(next_path, resolve_url(settings.LOGIN_URL))
        return HttpResponseClientRedirect(login["Location"])

    @staticmethod
    def _is_login_redirect(request: HttpRequest, response: HttpResponse) -> bool:
        if response.status_code != 302 or request.user.is_authenticated:
            return False
        location = urlsplit(response.get("Location", ""))
        # login_required's redirect names the page asked for (``next``); logging out also
        # ends on the login page, without one, and says so itself (LogoutView).
        return location.path == resolve_url(settings.LOGIN_URL) and "next=" in location.query
