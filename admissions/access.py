"""Who is asking: the typed request our views receive and the role checks on views. (From where:
``admissions/infra/client_address.py``.)

(Named apart from ``verifications/providers/http.py``, the provider clients' HTTP calls.)"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from admissions.models import Institution, User


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User


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
