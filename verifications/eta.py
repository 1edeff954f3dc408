"""How long a batch of checks will take, from the sources' allowed rates (pure functions).

Each source is called at most at its allowed rate (``rates.source_rate``), and the sources
are called in parallel: a batch takes, for its slowest source, the time to send what is queued
ahead of it for that source plus its own requests of that source. Workers, latency and retries
only make it longer, so this is a lower bound the limits make reachable, not a promise.

A source that cannot be called now adds its wait: a pause (a 429's ``Retry-After``) until it
ends, an open breaker until its next probe. A source that is *down* (breaker open or half-open)
makes the duration unknown: the text says so, and which source, rather than "moins d'une
minute" (``eta_text``).
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def eta_seconds(
    remaining: Mapping[str, int],
    ahead: Mapping[str, int],
    rates: Mapping[str, float],
    *,
    delays: Mapping[str, float] | None = None,
) -> float:
    """max over sources of (delay + (ahead + remaining) / rate); 0 when nothing remains.

    ``delays``: seconds before a source can be called at all (a pause, an open breaker)."""
    delays = delays or {}
    times = [
        max(delays.get(source, 0.0), 0.0) + (ahead.get(source, 0) + count) / rates[source]
        for source, count in remaining.items()
        if count and rates.get(source)
    ]
    return max(times, default=0.0)


def eta_text(seconds: float, down: Sequence["StrOrPromise"] = ()) -> str:
    """The ETA as a clerk reads it. ``down``: the names of the sources of the remaining checks
    that are down, whose checks wait for an unknown time; ``seconds`` is then a lower bound."""
    if not down:
        return duration_text(seconds)
    names = _names(down)
    if seconds < 60:
        return ngettext(
            "la source %(names)s est indisponible : durée inconnue",
            "les sources %(names)s sont indisponibles : durée inconnue",
            len(down),
        ) % {"names": names}
    return ngettext(
        "au moins %(duration)s, la source %(names)s est indisponible",
        "au moins %(duration)s, les sources %(names)s sont indisponibles",
        len(down),
    ) % {"duration": _plain_duration(seconds), "names": names}


def _names(labels: Sequence["StrOrPromise"]) -> str:
    names = [str(label) for label in labels]
    if len(names) == 1:
        return names[0]
    return _("%(first)s et %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def _plain_duration(seconds: float) -> str:
    """At least a minute, without "environ": "7 minutes", "2 h 05"."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    return _("%(h)s h %(m)02d") % {"h": minutes // 60, "m": minutes % 60}


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
