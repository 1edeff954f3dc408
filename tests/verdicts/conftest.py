import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from verifications.enums import Source
from verifications.providers.base import CallInfo, Identity, ProviderResult


PARIS = ZoneInfo("Europe/Paris")


def at(*args: int) -> dt.datetime:
    """An aware datetime, Paris time."""
    return dt.datetime(*args, tzinfo=PARIS)


def found(source: Source, record, **call) -> ProviderResult:
    return ProviderResult(
        source=source, found=True, data=record, call=CallInfo(http_status=200, **call)
    )


def not_found(source: Source, code: str = "", status: int = 404) -> ProviderResult:
    return ProviderResult(
        source=source,
        found=False,
        data=None,
        call=CallInfo(http_status=status, provider_error_code=code),
    )


def rows(decision) -> dict[str, dict]:
    return {row["field"]: row for row in decision.diff}


@pytest.fixture
def identity() -> Identity:
    return Identity(
        birth_name="Martin",
        usage_name="Durand",
        first_names=("Emma", "Louise"),
        sex="F",
        birth_date=dt.date(2012, 8, 15),
    )
