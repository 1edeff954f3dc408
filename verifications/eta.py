"""How long a batch of checks will take, from the sources' allowed rates (pure functions).

Each source is called at most at its allowed rate (``dispatch.source_rate``), and the sources
are called in parallel: a batch takes, for its slowest source, the time to send what is queued
ahead of it for that source plus its own requests of that source. Workers, latency and retries
only make it longer, so this is a lower bound the limits make reachable, not a promise.
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def eta_seconds(
    remaining: Mapping[str, int], ahead: Mapping[str, int], rates: Mapping[str, float]
) -> float:
    """max over sources of (ahead + remaining) / rate; 0 when nothing remains."""
    times = [
        (ahead.get(source, 0) + count) / rates[source]
        for source, count in remaining.items()
        if count and rates.get(source)
    ]
    return max(times, default=0.0)


def duration_text(seconds: float) -> str:
    """A duration as a clerk reads it: "moins d'une minute", "environ 7 min", "environ 2 h 05"."""
    if seconds <= 0:
        return _("terminé")
    if seconds < 60:
        return _("moins d'une minute")
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return ngettext("environ %(n)s minute", "environ %(n)s minutes", minutes) % {"n": minutes}
    return _("environ %(h)s h %(m)02d") % {"h": minutes // 60, "m": minutes % 60}
