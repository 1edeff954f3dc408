"""Session lifetime and caching rules applied to every response.

* Idle timeout: ``SESSION_COOKIE_AGE`` (settings): a session unused for that long is gone.
  ``SessionLifetimeMiddleware`` pushes its expiry back when a request comes more than
  ``VIGIE_SESSION_REFRESH_SECONDS`` (60 s) after the last push, instead of on every request
  (``SESSION_SAVE_EVERY_REQUEST``, off): a clerk's page views and the claim cards polling every
  two seconds no longer write the session row each time (bench: one ``UPDATE django_session``
  per request before). The idle timeout is thus 8 h after the last request, give or take 60 s.
* Absolute lifetime: ``SessionLifetimeMiddleware`` ends a session ``VIGIE_SESSION_MAX_LIFETIME``
  seconds after its login however active it is, so a stolen session cookie is not good forever.
* ``Cache-Control: no-store`` on every response Django renders (static files are served by
  WhiteNoise before this runs and keep their own caching): pages carry personal data, and no
  browser or proxy cache should keep a copy. A view's own ``no-store`` is left as it is.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


# Session keys: when this session's user logged in, and when its expiry was last pushed back
# (seconds since the epoch).
AUTHENTICATED_AT = "_vigie_authenticated_at"
REFRESHED_AT = "_vigie_refreshed_at"


def mark_session_start(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: start the absolute lifetime at the login (the login saves
    the session, so its idle expiry is fresh too)."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[AUTHENTICATED_AT] = now
        request.session[REFRESHED_AT] = now


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            started = request.session.get(AUTHENTICATED_AT)
            if started is None:
                # A session from before this rule (or a test's force_login): starts now.
                request.session[AUTHENTICATED_AT] = now
            elif now - int(started) > settings.VIGIE_SESSION_MAX_LIFETIME:
                # The request goes on as anonymous: login_required sends it to the login page
                # (htmx requests get HX-Redirect there: admissions.infra.middleware, audit area).
                logout(request)
                return self.get_response(request)
            refreshed = request.session.get(REFRESHED_AT)
            if refreshed is None or now - int(refreshed) >= settings.VIGIE_SESSION_REFRESH_SECONDS:
                # A change marks the session modified: SessionMiddleware saves it with a new
                # expiry (SESSION_COOKIE_AGE from now) and sends the cookie again.
                request.session[REFRESHED_AT] = now
        return self.get_response(request)


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            patch_cache_control(response, no_store=True)
        return response
