from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from admissions import selectors
from admissions.enums import ClaimKind, Verdict


def _require_institution_member(request: HttpRequest) -> None:
    if request.user.institution_id is None:
        raise PermissionDenied


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: how many claims stand at each verdict, per kind."""
    _require_institution_member(request)
    by_kind = selectors.claim_counts_by_kind_and_verdict(request.user)
    verdicts = [("", None), *((v.value, v.label) for v in Verdict)]
    rows = [
        {
            "kind": kind,
            "counts": [by_kind.get((kind.value, verdict), 0) for verdict, _label in verdicts],
            "total": sum(n for (k, _v), n in by_kind.items() if k == kind.value),
        }
        for kind in ClaimKind
    ]
    context = {
        "verdicts": verdicts,
        "rows": rows,
        "applicant_count": selectors.applicants_for_user(request.user).count(),
    }
    return render(request, "admissions/home.html", context)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)
