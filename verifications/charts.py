"""Charts drawn on the server as inline SVG (pure: data in, markup out).

No script and no style attribute, so they pass the strict CSP; each has a title read by screen
readers, and every bar carries its value in text, so nothing is told by colour alone. The
page puts each chart's data table beneath it.
"""

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


BAR = "#1f4e99"
TRACK = "#e6e9ef"
INK = "#1d2430"


def bar_chart(
    chart_id: str, title: str, rows: Sequence[tuple[str, float, str]], *, maximum: float = 0
) -> SafeString:
    """Horizontal bars, one per ``(label, value, value as shown)``; ``maximum`` sets the full
    length (default: the largest value)."""
    top = maximum or max((value for _, value, _ in rows), default=0) or 1
    row_height, label_width, bar_width = 26, 200, 300
    height = row_height * len(rows) + 8
    bars = format_html_join(
        "",
        '<g transform="translate(0,{})">'
        '<text x="0" y="17" fill="{}" font-size="13">{}</text>'
        '<rect x="{}" y="4" width="{}" height="16" fill="{}"></rect>'
        '<rect x="{}" y="4" width="{}" height="16" fill="{}"></rect>'
        '<text x="{}" y="17" fill="{}" font-size="13">{}</text>'
        "</g>",
        (
            (
                4 + n * row_height,
                INK,
                _clip(label),
                label_width,
                bar_width,
                TRACK,
                label_width,
                round(bar_width * min(value, top) / top, 1),
                BAR,
                label_width + bar_width + 8,
                INK,
                shown,
            )
            for n, (label, value, shown) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="chart" id="{}" role="img" aria-labelledby="{}-title" viewBox="0 0 {} {}" '
        'width="{}" height="{}"><title id="{}-title">{}</title>{}</svg>',
        chart_id,
        chart_id,
        label_width + bar_width + 90,
        height,
        label_width + bar_width + 90,
        height,
        chart_id,
        title,
        bars,
    )


def strips(
    chart_id: str,
    title: str,
    series: Sequence[tuple[str, Sequence[int]]],
    columns: Sequence[str],
) -> SafeString:
    """Small multiples: one strip of vertical bars per series (a verdict), one bar per column
    (a week), each strip scaled to the largest value of all; the columns' labels under the last
    strip, the series' labels on the left."""
    top = max((v for _, values in series for v in values), default=0) or 1
    label_width, strip_height, gap = 170, 34, 8
    width = max(len(columns), 1)
    bar_space = min(40, 420 // width)
    plot_width = bar_space * width
    parts = []
    for n, (label, values) in enumerate(series):
        y = n * (strip_height + gap)
        parts.append(
            format_html(
                '<text x="0" y="{}" fill="{}" font-size="13">{}</text>', y + 22, INK, _clip(label)
            )
        )
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"></line>',
                label_width,
                label_width + plot_width,
                y + strip_height,
                y + strip_height,
                TRACK,
            )
        )
        for i, value in enumerate(values):
            bar_height = round((strip_height - 4) * value / top, 1)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
                    label_width + i * bar_space + 2,
                    y + strip_height - bar_height,
                    max(bar_space - 4, 2),
                    bar_height,
                    BAR,
                    f"{columns[i]} : {value}",
                )
            )
    axis_y = len(series) * (strip_height + gap) + 4
    for i, column in enumerate(columns):
        if len(columns) > 10 and i % max(len(columns) // 8, 1):
            continue
        parts.append(
            format_html(
                '<text x="{}" y="{}" fill="{}" font-size="11">{}</text>',
                label_width + i * bar_space,
                axis_y + 10,
                INK,
                column,
            )
        )
    body = SafeString("".join(parts))
    return format_html(
        '<svg class="chart" id="{}" role="img" aria-labelledby="{}-title" viewBox="0 0 {} {}" '
        'width="{}" height="{}"><title id="{}-title">{}</title>{}</svg>',
        chart_id,
        chart_id,
        label_width + plot_width + 20,
        axis_y + 18,
        label_width + plot_width + 20,
        axis_y + 18,
        chart_id,
        title,
        body,
    )


def _clip(label: str, length: int = 28) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"
