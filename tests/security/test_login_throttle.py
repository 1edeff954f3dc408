"""Login throttling (admissions/login_throttle.py): N failures lock a username out from one
address for a cool-off, on our login page and the back-office's, with a French message and an
audit event; the counters live in the shared cache (Redis when REDIS_URL is set)."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import UserFactory


pytestmark = pytest.mark.django_db
PASSWORD = "un mot de passe solide"
LOCKED_TEXT = "Trop de tentatives de connexion échouées"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.VIGIE_LOGIN_FAILURE_LIMIT = 3
    settings.VIGIE_LOGIN_IP_FAILURE_LIMIT = 10
    settings.VIGIE_LOGIN_LOCKOUT_SECONDS = 600


def _login(client, username, password, ip="203.0.113.7", url=None):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_defaults_are_sensible():
    from django.conf import settings

    from admissions import settings as project

    assert project.VIGIE_LOGIN_FAILURE_LIMIT == 5
    assert project.VIGIE_LOGIN_IP_FAILURE_LIMIT == 30
    assert project.VIGIE_LOGIN_LOCKOUT_SECONDS == 900
    assert settings.AUTHENTICATION_BACKENDS == ["admissions.login_throttle.LoginThrottleBackend"]


def test_failures_below_the_limit_say_wrong_password(client):
    clerk = UserFactory()
    for _ in range(2):
        response = _login(client, clerk.username, "non")
        assert response.status_code == 200
        assert "Identifiant ou mot de passe incorrect" in response.text
    # The right password still works before the limit, and clears the counter.
    assert _login(client, clerk.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert _login(client, clerk.username, "non").status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists()


def test_the_limit_locks_out_even_the_right_password_then_the_cool_off_ends(client):
    clerk = UserFactory()
    for _ in range(2):
        _login(client, clerk.username, "non")
    response = _login(client, clerk.username, "non")
    assert response.status_code == 429
    assert LOCKED_TEXT in response.text
    assert "10 minutes" in response.text
    assert "Identifiant ou mot de passe incorrect" not in response.text

    response = _login(client, clerk.username, PASSWORD)
    assert response.status_code == 429
    assert LOCKED_TEXT in response.text
    assert "_auth_user_id" not in client.session

    # The cool-off is the counters' expiry in the cache (its TTL is checked below).
    _expire_lockouts()
    response = _login(client, clerk.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(clerk.pk)


def _expire_lockouts():
    """Every login counter ends as its timeout would end it."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match="*vigie:login-failures:*"))
        assert keys, "the counters are in Redis"
        client.delete(*keys)
        client.close()
    else:
        cache.clear()


@pytest.mark.redis
def test_counters_are_in_the_shared_cache_with_the_cool_off_as_ttl(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the counters are then shared by every web process")
    import redis

    clerk = UserFactory()
    for _ in range(3):
        _login(client, clerk.username, "non")
    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(redis_client.scan_iter(match="*vigie:login-failures:*"))
    assert len(keys) == 2  # the (username, address) pair and the address
    for key in keys:
        assert 590 <= redis_client.ttl(key) <= 600
        assert clerk.username.encode() not in key  # hashed, never the username itself
    redis_client.close()


def test_lockout_is_per_address_and_username(client):
    clerk, other = UserFactory(), UserFactory()
    for _ in range(3):
        _login(client, clerk.username, "non", ip="203.0.113.7")
    # The same account from another address, and another account from the same address.
    assert _login(client, clerk.username, PASSWORD, ip="198.51.100.9").status_code == 302
    client.logout()
    assert _login(client, other.username, PASSWORD, ip="203.0.113.7").status_code == 302


def test_many_usernames_from_one_address_lock_the_address(client):
    users = [UserFactory() for _ in range(4)]
    for user in users[:3]:
        for _ in range(2):
            _login(client, user.username, "non")
    for i in range(4):
        _login(client, f"nobody-{i}", "non")
    # 10 failures from the address: even a fresh account is refused from there.
    response = _login(client, users[3].username, PASSWORD)
    assert response.status_code == 429
    assert _login(client, users[3].username, PASSWORD, ip="198.51.100.9").status_code == 302


def test_lockout_is_recorded_once_in_the_audit_trail_without_the_typed_name(client):
    clerk = UserFactory()
    for _ in range(5):
        _login(client, clerk.username, "non")
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.actor == clerk
    assert event.institution == clerk.institution
    assert event.ip == "203.0.113.7"
    assert event.details == {"locked_out": True, "failures": 3, "lockout_seconds": 600}

    for _ in range(3):
        _login(client, "Mot2Passe!Secret", "non", ip="198.51.100.9")  # a password, mistyped
    unknown = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor=None).get()
    assert unknown.actor_label == "anonymous"
    assert unknown.chain == "backoffice"
    assert "Mot2Passe" not in str(unknown.details) + unknown.object_id + unknown.actor_label


def test_back_office_login_is_throttled_too(client):
    staff = UserFactory(backoffice=True)
    url = reverse("admin:login")
    for _ in range(3):
        _login(client, staff.username, "non", url=url)
    response = _login(client, staff.username, PASSWORD, url=url)
    assert LOCKED_TEXT in response.text
    assert "_auth_user_id" not in client.session


def test_english_interface_translates_the_message(client):
    clerk = UserFactory()
    client.cookies["django_language"] = "en"
    for _ in range(3):
        response = _login(client, clerk.username, "non")
    assert "Too many failed login attempts" in response.text


def test_limits_and_lifetimes_come_from_the_environment(tmp_path):
    from tests.test_settings import _django

    result = _django(
        {
            "VIGIE_VAR_DIR": str(tmp_path),
            "VIGIE_LOGIN_FAILURE_LIMIT": "7",
            "VIGIE_LOGIN_IP_FAILURE_LIMIT": "0",
            "VIGIE_LOGIN_LOCKOUT_SECONDS": "120",
            "VIGIE_SESSION_MAX_LIFETIME_SECONDS": "3600",
            "DJANGO_SESSION_COOKIE_AGE": "1800",
        },
        "from django.conf import settings as s; "
        "print(s.VIGIE_LOGIN_FAILURE_LIMIT, s.VIGIE_LOGIN_IP_FAILURE_LIMIT, "
        "s.VIGIE_LOGIN_LOCKOUT_SECONDS, s.VIGIE_SESSION_MAX_LIFETIME, s.SESSION_COOKIE_AGE)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "0", "120", "3600", "1800"]


def test_a_limit_of_zero_disables_it(client, settings):
    settings.VIGIE_LOGIN_IP_FAILURE_LIMIT = 0
    for i in range(12):
        _login(client, f"nobody-{i}", "non")
    clerk = UserFactory()
    assert _login(client, clerk.username, PASSWORD).status_code == 302
