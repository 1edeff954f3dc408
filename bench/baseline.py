"""The pages benchmark's yardstick: two bare routes served by the same gunicorn, through the same
middleware (sessions, authentication, CSRF, security headers, locale, htmx), in the same run, under
the same load as the product's pages. Each page's time is then reported as a ratio to them, which
a busy or slow machine moves far less than it moves absolute times (docs/PERFORMANCE.md).

* ``bare``: a member's view rendering a tiny template, no query of its own (the session and the
  user are still read, as on every page);
* ``one query``: the same, plus one indexed query (an applicant of the member's institution by
  primary key).

Only the benchmark serves them: gunicorn runs with ``bench.settings`` (``ROOT_URLCONF =
"bench.urls"``), never the product.
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from admissions.access import HtmxHttpRequest, member_required
from admissions.models import Applicant


@require_GET
@member_required
def bare(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "bench/baseline.html", {"applicant": None})


@require_GET
@member_required
def one_query(request: HtmxHttpRequest, applicant_id: int) -> HttpResponse:
    applicant = (
        Applicant.objects.filter(institution_id=request.user.institution_id, pk=applicant_id)
        .only("pk", "file_reference")
        .first()
    )
    return render(request, "bench/baseline.html", {"applicant": applicant})
