"""Session timeouts, with the clock moved by time-machine: an idle session ends after
SESSION_COOKIE_AGE; an active one ends VIGIE_SESSION_MAX_LIFETIME after its login."""

from datetime import timedelta

import pytest
import time_machine
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
    assert project.SESSION_SAVE_EVERY_REQUEST is True
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
