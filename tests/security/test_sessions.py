"""Session timeouts, with the clock moved by time-machine: an idle session ends after
SESSION_COOKIE_AGE; an active one ends VIGIE_SESSION_MAX_LIFETIME after its login."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory


pytestmark = pytest.mark.django_db
PASSWORD = "un mot de passe solide"
START = "2026-11-23 08:00 +00:00"


def _log_in(client):
    clerk = UserFactory()
    response = client.post(reverse("login"), {"username": clerk.username, "password": PASSWORD})
    assert response.status_code == 302
    return clerk


def _is_logged_in(client) -> bool:
    response = client.get(reverse("home"))
    if response.status_code == 302:
        assert response.headers["Location"].startswith(reverse("login"))
        return False
    assert response.status_code == 200
    return True


def test_defaults():
    from admissions import settings as project

    assert project.SESSION_COOKIE_AGE == 8 * 3600
    assert project.SESSION_SAVE_EVERY_REQUEST is False  # pushed back once a minute instead
    assert project.VIGIE_SESSION_REFRESH_SECONDS == 60
    assert project.VIGIE_SESSION_MAX_LIFETIME == 12 * 3600


def test_idle_session_ends_after_the_cookie_age(client, settings):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    settings.VIGIE_SESSION_MAX_LIFETIME = 48 * 3600
    with time_machine.travel(START, tick=False) as traveller:
        _log_in(client)
        traveller.shift(timedelta(hours=7, minutes=59))
        assert _is_logged_in(client)  # each request pushes the expiry back
        traveller.shift(timedelta(hours=7, minutes=59))
        assert _is_logged_in(client)
        traveller.shift(timedelta(hours=8, minutes=1))
        assert not _is_logged_in(client)


def _expiry(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.cookies["sessionid"].value).expire_date


def test_the_idle_expiry_is_pushed_back_at_most_once_a_minute(client, settings):
    """Requests within a minute of the last push leave the session row alone (no write, no
    cookie sent again); the first one after it pushes the expiry back 8 h from then."""
    settings.SESSION_COOKIE_AGE = 8 * 3600
    with time_machine.travel(START, tick=False) as traveller:
        _log_in(client)
        at_login = _expiry(client)
        for _ in range(3):
            traveller.shift(timedelta(seconds=19))
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse("home"))
            assert response.status_code == 200
            assert "sessionid" not in response.cookies
            assert not [
                q
                for q in queries
                if "django_session" in q["sql"]
                and not q["sql"].lstrip().upper().startswith("SELECT")
            ]
        assert _expiry(client) == at_login
        traveller.shift(timedelta(seconds=3))  # 60 s after the login
        response = client.get(reverse("home"))
        assert "sessionid" in response.cookies
        assert _expiry(client) == at_login + timedelta(seconds=60)


def test_active_session_ends_at_its_absolute_lifetime(client, settings):
    settings.VIGIE_SESSION_MAX_LIFETIME = 12 * 3600
    with time_machine.travel(START, tick=False) as traveller:
        _log_in(client)
        for _ in range(5):
            traveller.shift(timedelta(hours=2))
            assert _is_logged_in(client)  # 10 h of steady work
        traveller.shift(timedelta(hours=1, minutes=59))
        assert _is_logged_in(client)  # 11 h 59
        traveller.shift(timedelta(minutes=2))
        response = client.get(reverse("home"), follow=True)
        assert response.redirect_chain[0][0].startswith(reverse("login"))
        assert "_auth_user_id" not in client.session
        # A fresh login starts a fresh lifetime.
        _log_in(client)
        for _ in range(2):
            traveller.shift(timedelta(hours=5, minutes=30))
            assert _is_logged_in(client)


def test_a_session_without_a_start_time_gets_one_at_its_first_request(client, settings):
    """force_login (and sessions from before this rule) have no start time: the lifetime
    starts at their first request rather than never."""
    settings.VIGIE_SESSION_MAX_LIFETIME = 3600
    with time_machine.travel(START, tick=False) as traveller:
        client.force_login(UserFactory())
        session = client.session
        session.pop("_vigie_authenticated_at", None)
        session.save()
        assert _is_logged_in(client)
        traveller.shift(timedelta(minutes=59))
        assert _is_logged_in(client)
        traveller.shift(timedelta(minutes=2))
        assert not _is_logged_in(client)


def test_session_cookie_is_http_only_and_ends_with_the_browser(client):
    _log_in(client)
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["max-age"]  # SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_logging_out_says_so_not_that_the_session_expired(client):
    _log_in(client)
    login = client.post(reverse("logout"), follow=True)
    assert login.redirect_chain == [(reverse("login"), 302)]
    assert "Vous êtes déconnecté." in login.text
    assert "session a expiré" not in login.text
    assert not _is_logged_in(client)


def test_a_page_asked_for_after_an_ended_session_still_says_it_expired(client, settings):
    """The other way to the login page: a page behind the login, a session that ended."""
    settings.VIGIE_SESSION_MAX_LIFETIME = 3600
    with time_machine.travel(START, tick=False) as clock:
        _log_in(client)
        clock.shift(timedelta(seconds=3601))
        login = client.get(reverse("applicant_list"), follow=True)
    assert "Votre session a expiré : reconnectez-vous pour continuer." in login.text
    assert "Vous êtes déconnecté" not in login.text
