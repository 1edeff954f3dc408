"""How fast each source may be called: the tightest of its configured limits, per request and
per check (reads the limiter's configuration, changes nothing).

The dispatcher sends at this pace (``services/dispatch.py``), scheduled re-verification takes a
share of it (``services/scheduled.py``), and the batch pages' estimates divide by it
(``selectors.py``, ``eta.py``).
"""

from verifications.enums import Source
from verifications.providers.limits import get_limiter


# Upstream calls one check makes at most (Certif Info: a search, then the detail); each takes
# a slot of the source's limits.
CALLS_PER_CHECK: dict[str, int] = {Source.CERTIFINFO: 2}


def source_rate(source: str) -> float:
    """The most requests per second the configured limits allow for ``source`` (the tightest
    of its rates); unlimited sources count as 50/s, more than a few workers can do anyway."""
    rates = [
        rate.limit / rate.window
        for scope_rates in get_limiter().config.rates.get(source, {}).values()
        for rate in scope_rates
    ]
    return min(rates, default=50.0)


def check_rate(source: str) -> float:
    """Checks per second the source's limits allow."""
    return source_rate(source) / CALLS_PER_CHECK.get(source, 1)
