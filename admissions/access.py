"""Who is asking, and from where: the typed request our views receive, the client's address
(for the audit trail and the login throttle), and the role checks on views.

(Named apart from ``verifications/providers/http.py``, the provider clients' HTTP calls.)"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from admissions.models import Institution, User
from verifications.enums import BatchKind
from verifications.models import Batch


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP for the audit trail. Behind a reverse proxy that sets X-Forwarded-For,
    set VIGIE_TRUST_X_FORWARDED_FOR=true: the address the proxy saw is then the last one."""
    if getattr(settings, "VIGIE_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def _role_required(check: Callable[[User], bool]) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapped(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user  # signed in: login_required runs first
            if user.institution_id is None or not check(user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def member_institution(request: HtmxHttpRequest) -> Institution:
    """The institution of the member making ``request``: a view behind one of the role checks
    below is only reached by a member of one."""
    institution = request.user.institution
    if institution is None:
        raise PermissionDenied
    return institution


# Any member of an institution: clerk, supervisor, institution admin.
member_required = _role_required(lambda user: True)
# Supervisors and institution admins: batches, exports, audit, overrides.
supervisor_required = _role_required(lambda user: user.is_supervisor)
institution_admin_required = _role_required(lambda user: user.is_institution_admin)


def import_verification_allowed(user: User, batch: Batch) -> bool:
    """Whether ``user`` may verify an import's claims in one step ("Vérifier les déclarations
    importées"): a supervisor any import of the institution, a clerk the imports they made
    (docs/DESIGN.md §Users and roles)."""
    return (
        user.is_authenticated
        and user.institution_id is not None
        and batch.institution_id == user.institution_id
        and batch.kind == BatchKind.IMPORT
        and (user.is_supervisor or batch.created_by_id == user.pk)
    )
