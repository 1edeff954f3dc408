"""The dashboard: claims by kind and verdict, each source's health, open alerts, batches in
progress, verdict changes and expiring credentials."""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from admissions.access import HtmxHttpRequest, member_institution, member_required
from verifications import selectors
from verifications.dashboard_counts import dashboard_counts
from verifications.enums import ClaimKind, Source, Verdict
from verifications.providers.limits import LimiterUnavailable, get_limiter


def _when(epoch: float | None) -> datetime | None:
    """An epoch time of the limiter's, as an aware datetime for the templates."""
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


@require_GET
@member_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    counts = dashboard_counts(user)
    by_kind = counts.by_kind_and_verdict
    verdicts = [("", None), *((v.value, v.label) for v in Verdict)]
    rows: list[dict[str, Any]] = [
        {
            "kind": kind,
            "counts": [by_kind.get((kind.value, verdict), 0) for verdict, _label in verdicts],
            "total": sum(n for (k, _v), n in by_kind.items() if k == kind.value),
        }
        for kind in ClaimKind
    ]
    totals = [sum(row["counts"][i] for row in rows) for i in range(len(verdicts))]
    try:
        breakers, limiter_ok = get_limiter().breakers(), True
    except LimiterUnavailable:  # the shared state (Redis) is unreachable: say so, do not fail
        breakers, limiter_ok = {}, False
    institution = member_institution(request)
    pending = selectors.pending_by_source(user)
    last_errors = selectors.last_error_by_source(user)
    health = [
        {
            "source": source,
            "breaker": breakers.get(source),
            "retry_at": _when(getattr(breakers.get(source), "retry_at", None)),
            "cooldown_until": _when(getattr(breakers.get(source), "cooldown_until", None)),
            "pending": pending.get(source, 0),
            "last_error": last_errors.get(source),
            "enabled": institution.source_enabled(source),
        }
        for source in Source
    ]
    # One query for the ten batches' progress.
    batches = list(
        selectors.batch_progress_many(
            user=user, batches=list(selectors.batches_in_progress(user)[:10])
        ).values()
    )
    context = {
        "verdicts": verdicts,
        "rows": rows,
        "totals": totals,
        "grand_total": sum(totals),
        "applicant_count": counts.applicants,
        "attention": counts.needing_attention,
        "counted_at": counts.computed_at,
        "recount_seconds": settings.VIGIE_DASHBOARD_COUNTS_SECONDS,
        "health": health,
        "limiter_ok": limiter_ok,
        "alerts": selectors.open_alerts(user),
        "batches": batches,
        "verdict_changes": selectors.verdict_changes_for_user(user)[:20],
        "credential_warnings": selectors.credentials_expiring_for_user(user, now=timezone.now()),
    }
    return render(request, "verifications/dashboard.html", context)
