"""The analytics page: how the institution's verifications go, per period and claim kind, each
figure as a chart, its data table and a CSV file (supervisors and institution admins)."""

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from admissions.access import HtmxHttpRequest, member_institution, supervisor_required
from admissions.infra import exports
from admissions.infra.choices import choice_label
from admissions.infra.text_input import PlainTextForm
from verifications import analytics, charts
from verifications.enums import ClaimKind, Source, Verdict
from verifications.verdicts import REASONS, render_reason


class AnalyticsForm(PlainTextForm, forms.Form):
    jours = forms.TypedChoiceField(
        label=gettext_lazy("Période"),
        coerce=int,
        choices=[
            (7, gettext_lazy("7 derniers jours")),
            (30, gettext_lazy("30 derniers jours")),
            (90, gettext_lazy("90 derniers jours")),
            (365, gettext_lazy("12 derniers mois")),
        ],
        initial=analytics.DEFAULT_PERIOD,
        required=False,
    )
    type = forms.ChoiceField(
        label=gettext_lazy("Déclarations"),
        choices=[("", gettext_lazy("Tous les types")), *ClaimKind.choices],
        required=False,
    )


def duration_words(seconds: float) -> str:
    """A duration in its unit: "46 s", "1,4 min", "2 h", "3,5 j"."""
    for limit, unit, size in ((60, _("s"), 1), (3600, _("min"), 60), (86400, _("h"), 3600)):
        if seconds < limit:
            return f"{_decimal(seconds / size)} {unit}"
    return f"{_decimal(seconds / 86400)} {_('j')}"


def _decimal(value: float) -> str:
    value = round(value, 1)
    return formats.number_format(value, 0 if value.is_integer() else 1)


def reason_words(row: analytics.ReasonCount) -> str:
    """A counted reason in words: a provider error with its code in words; any other with its
    per-applicant details (a year, a code) left as "…"."""
    if row.reason_code not in REASONS:
        return row.reason_code or _("motif non précisé")
    if row.error_code or row.error_status:
        params: dict[str, Any] = {
            "code": row.error_code or None,
            "status": int(row.error_status) if row.error_status.isdigit() else None,
            "source": row.source,
        }
    else:
        names = re.findall(r"%\((\w+)\)s", str(REASONS[row.reason_code]))
        params = {name: "…" for name in names if name != "error"}
    return render_reason(row.reason_code, params, language=get_language() or "fr")


def _scope(request: HtmxHttpRequest) -> tuple[AnalyticsForm, analytics.Scope]:
    form = AnalyticsForm(request.GET or None)
    days, kind = analytics.DEFAULT_PERIOD, ""
    if form.is_valid():
        days = form.cleaned_data["jours"] or analytics.DEFAULT_PERIOD
        kind = form.cleaned_data["type"]
    institution = member_institution(request)
    return form, analytics.Scope.last_days(institution.pk, days, kind)


# Each figure: its CSV headers and rows, from the scope.
Table = tuple[list[str], list[list[Any]]]


def first_check_table(scope: analytics.Scope) -> Table:
    rows = analytics.first_check_confirmed(scope)
    return (
        [_("Déclaration"), _("Vérifiées pour la première fois"), _("Confirmées"), _("Part (%)")],
        [[choice_label(ClaimKind, r.kind), r.checked, r.confirmed, r.percent] for r in rows],
    )


def delays_table(scope: analytics.Scope) -> Table:
    rows = analytics.time_to_verdict(scope)
    return (
        [_("Déclaration"), _("Vérifications"), _("Médiane (s)"), _("90e centile (s)")],
        [
            [
                choice_label(ClaimKind, r.kind),
                r.checks,
                round(r.median_seconds, 1),
                round(r.p90_seconds, 1),
            ]
            for r in rows
        ],
    )


def weeks_table(scope: analytics.Scope) -> Table:
    weeks = analytics.verdicts_by_week(scope)
    return (
        [_("Semaine du"), *[str(v.label) for v in Verdict]],
        [
            [formats.date_format(w.start, "d/m/Y"), *[w.counts.get(v, 0) for v in Verdict]]
            for w in weeks
        ],
    )


def reasons_table(scope: analytics.Scope) -> Table:
    rows = analytics.top_reasons(scope)
    return (
        [_("Source"), _("Verdict"), _("Motif"), _("Code d'erreur"), _("Nombre")],
        [
            [
                choice_label(Source, r.source),
                choice_label(Verdict, r.verdict),
                reason_words(r),
                r.error_code,
                r.count,
            ]
            for r in rows
        ],
    )


def night_table(scope: analytics.Scope) -> Table:
    rows = analytics.night_changes(scope)
    return (
        [_("Verdict précédent"), _("Nouveau verdict"), _("Nombre")],
        [
            [choice_label(Verdict, r.previous), choice_label(Verdict, r.verdict), r.count]
            for r in rows
        ],
    )


def availability_table(scope: analytics.Scope) -> Table:
    rows = analytics.source_availability(scope)
    return (
        [_("Source"), _("Appels"), _("Indisponible"), _("Disponibilité (%)")],
        [[choice_label(Source, r.source), r.calls, r.unavailable, r.percent] for r in rows],
    )


FIGURES: dict[str, Callable[[analytics.Scope], Table]] = {
    "premiere-verification": first_check_table,
    "delais": delays_table,
    "semaines": weeks_table,
    "motifs": reasons_table,
    "nuit": night_table,
    "disponibilite": availability_table,
}


@require_GET
@supervisor_required
def analytics_page(request: HtmxHttpRequest) -> HttpResponse:
    form, scope = _scope(request)
    answers = analytics.answers(scope)
    first, delays, weeks, reasons = answers.first, answers.delays, answers.weeks, answers.reasons
    queue = analytics.manual_queue(scope)
    night = analytics.night_changes(scope)
    availability = analytics.source_availability(scope)
    shown_verdicts = [v for v in Verdict if any(w.counts.get(v) for w in weeks)]
    week_labels = [formats.date_format(w.start, "d/m") for w in weeks]
    context = {
        "form": form,
        "query": request.GET.urlencode(),
        "first": first,
        "first_chart": charts.bar_chart(
            "chart-first",
            _("Part des déclarations confirmées à la première vérification"),
            [(choice_label(ClaimKind, r.kind), r.percent, f"{r.percent} %") for r in first],
            maximum=100,
        ),
        "delays": [
            (r, duration_words(r.median_seconds), duration_words(r.p90_seconds)) for r in delays
        ],
        "delays_chart": charts.bar_chart(
            "chart-delays",
            _("Délai de la demande au verdict, 90e centile"),
            [
                (choice_label(ClaimKind, r.kind), r.p90_seconds, duration_words(r.p90_seconds))
                for r in delays
            ],
        ),
        "weeks": weeks,
        "shown_verdicts": shown_verdicts,
        "weeks_chart": charts.strips(
            "chart-weeks",
            _("Verdicts des sources, semaine par semaine"),
            [(str(v.label), [w.counts.get(v, 0) for w in weeks]) for v in shown_verdicts],
            week_labels,
        ),
        "reasons": [(r, reason_words(r)) for r in reasons],
        "queue": queue,
        "night": night,
        "availability": availability,
        "availability_chart": charts.bar_chart(
            "chart-availability",
            _("Disponibilité des sources (part des appels qui ont eu une réponse)"),
            [
                (choice_label(Source, r.source), r.percent, f"{_decimal(r.percent)} %")
                for r in availability
            ],
            maximum=100,
        ),
        "figures": FIGURES,
        "delay_resolution": analytics.DELAY_RESOLUTION_PERCENT,
    }
    return render(request, "verifications/analytics.html", context)


@require_GET
@supervisor_required
def analytics_export(request: HtmxHttpRequest, figure: str) -> StreamingHttpResponse:
    """One figure's data as CSV, for the same period and kind as the page."""
    table = FIGURES.get(figure)
    if table is None:
        raise Http404
    _form, scope = _scope(request)
    headers, rows = table(scope)
    response = StreamingHttpResponse(
        exports.csv_stream(headers, rows), content_type=exports.CSV_CONTENT_TYPE
    )
    response["Content-Disposition"] = f'attachment; filename="vigie-analyses-{figure}.csv"'
    return response
