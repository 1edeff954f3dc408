"""Login throttling: repeated failed logins lock the username out from that address for a while.

Why our own and not django-axes: axes 8.3.1 installs on Django 6.1 (it requires ``django>=4.2``
with no upper bound; its classifiers stop at 6.0, which is no cap), but it does not do what this
module does:

* two limits of different sizes, one per username from one address and one per address: axes
  compares the largest of its lockout counters with a single ``AXES_FAILURE_LIMIT``;
* a successful login clears its own username-and-address counter only, never the address's, so
  one valid account cannot reset a credential-stuffing count (axes clears every counter of the
  attempt when ``AXES_RESET_ON_SUCCESS`` is set, none by default);
* the lockout is recorded in Vigie's hash-chained audit trail, with the other login events;
  apart from it nothing is stored but counters under hashed keys; axes keeps its own tables
  (``AccessAttempt``, ``AccessLog``, ``AccessFailureLog``: usernames, addresses, POST data) with
  their migrations, a middleware and its backend;
* the client address is ``admissions.infra.client_address.client_ip``'s, the same
  ``VIGIE_TRUST_X_FORWARDED_FOR`` rule as the audit trail's.

This module is a counter on the default cache (Redis in production, so every web process shares
it; without REDIS_URL each process counts for itself).

* ``VIGIE_LOGIN_FAILURE_LIMIT`` failures (default 5) for one username from one IP address lock
  that pair out for ``VIGIE_LOGIN_LOCKOUT_SECONDS`` (default 900) after the last failure;
* ``VIGIE_LOGIN_IP_FAILURE_LIMIT`` failures (default 30) from one address, whatever the
  usernames, lock the address out (credential stuffing); 0 disables either limit.

How it plugs in: ``LoginThrottleBackend`` (Django's ModelBackend, the only one in
``AUTHENTICATION_BACKENDS``) refuses (``PermissionDenied``, which stops ``authenticate``) while a
lockout holds, so every login form
(ours and the back-office's) is covered; the ``user_login_failed`` signal counts failures, and
``user_logged_in`` clears the pair's counter. ``ThrottledLoginFormMixin`` turns the refusal into a
clear French message. The failure that starts a lockout is recorded in the audit trail.

Cache keys hold a hash of the username and address, never the username itself.
"""

import hashlib
import logging
import math
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import ngettext

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.infra.client_address import client_ip
from admissions.models import AuditEvent, User


logger = logging.getLogger(__name__)

_PREFIX = "vigie:login-failures"
# Set on the request when this login attempt was refused or has just started a lockout.
LOCKED_ATTR = "vigie_login_locked"


def _client_ip(request: HttpRequest | None) -> str:
    return (client_ip(request) if request is not None else None) or ""


def _key(scope: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{_PREFIX}:{scope}:{digest}"


def _counters(username: str, ip: str) -> list[tuple[str, int]]:
    """(cache key, limit) of every counter a login attempt touches."""
    return [
        (_key("user-ip", username.casefold(), ip), settings.VIGIE_LOGIN_FAILURE_LIMIT),
        (_key("ip", ip), settings.VIGIE_LOGIN_IP_FAILURE_LIMIT),
    ]


def lockout_seconds() -> int:
    return int(settings.VIGIE_LOGIN_LOCKOUT_SECONDS)


def is_locked(username: str, ip: str) -> bool:
    counters = [(key, limit) for key, limit in _counters(username, ip) if limit > 0]
    counts = cache.get_many([key for key, _limit in counters])
    return any(counts.get(key, 0) >= limit for key, limit in counters)


def register_failure(username: str, ip: str) -> int | None:
    """Count one failure; the failure count that started a lockout, else None."""
    timeout = lockout_seconds()
    started = None
    for key, limit in _counters(username, ip):
        if limit <= 0:
            continue
        cache.add(key, 0, timeout)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout)
            count = 1
        cache.touch(key, timeout)  # the lockout runs from the last failure
        if count == limit:
            started = count
    return started


def register_success(username: str, ip: str) -> None:
    """A successful login clears its username's counter from that address (not the address's)."""
    cache.delete(_counters(username, ip)[0][0])


def lockout_message() -> str:
    minutes = max(1, math.ceil(lockout_seconds() / 60))
    return ngettext(
        "Trop de tentatives de connexion échouées : la connexion est bloquée pendant "
        "%(minutes)d minute. Réessayez plus tard, ou adressez-vous à l'administrateur de "
        "votre établissement.",
        "Trop de tentatives de connexion échouées : la connexion est bloquée pendant "
        "%(minutes)d minutes. Réessayez plus tard, ou adressez-vous à l'administrateur de "
        "votre établissement.",
        minutes,
    ) % {"minutes": minutes}


@transaction.atomic
def login_lockout_record(*, username: str, ip: str, failures: int) -> AuditEvent:
    """Service: record that a lockout started. The actor is the account if it exists; a name that
    matches no account is not written down (people type passwords in the username field)."""
    user = User.objects.select_related("institution").filter(username=username).first()
    return audit_record(
        action=AuditAction.LOGIN_FAILED,
        actor=user,
        institution=user.institution if user is not None else None,
        obj=user,
        object_type="user",
        ip=ip or None,
        details={"locked_out": True, "failures": failures, "lockout_seconds": lockout_seconds()},
        actor_label="" if user is not None else "anonymous",
    )


class LoginThrottleBackend(ModelBackend):
    """Django's ModelBackend that refuses every attempt while a lockout holds (the refusal stops
    ``authenticate`` before any password is checked)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if request is not None and is_locked(username or "", _client_ip(request)):
            setattr(request, LOCKED_ATTR, True)
            raise PermissionDenied("login locked out")
        return super().authenticate(request, username=username, password=password, **kwargs)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is None or getattr(request, LOCKED_ATTR, False):
        return
    username = str(credentials.get("username") or "")
    ip = _client_ip(request)
    failures = register_failure(username, ip)
    if failures is not None:
        setattr(request, LOCKED_ATTR, True)
        logger.warning("login locked out after %s failures", failures)
        login_lockout_record(username=username, ip=ip, failures=failures)


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None:
        register_success(user.get_username(), _client_ip(request))


class ThrottledLoginFormMixin:
    """For ``AuthenticationForm`` subclasses: a lockout shows its own message (code
    ``locked_out``) rather than "wrong password"."""

    request: HttpRequest | None

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()  # type: ignore[misc]
        except ValidationError:
            if self.request is not None and getattr(self.request, LOCKED_ATTR, False):
                raise ValidationError(lockout_message(), code="locked_out") from None
            raise
