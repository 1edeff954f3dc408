import datetime as dt

import pytest
import responses

from verifications.providers.base import Identity, ProviderConfig
from verifications.providers.http import build_session


PARTICULIER = "https://particulier.test"
CVEC = "https://cvec.test"
CERTIFINFO = "https://certifinfo.test"
COVOITURAGE = "https://covoiturage.test/v3.2"
TOKEN = "secret-token-value"
SIRET = "13002526500013"


@pytest.fixture
def mocked():
    """Every request is answered by a registered response, or fails as a connection error;
    every registered response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def session():
    session = build_session()
    yield session
    session.close()


@pytest.fixture
def emma() -> Identity:
    return Identity(
        birth_name="MARTIN",
        usage_name="",
        first_names=("EMMA",),
        sex="F",
        birth_date=dt.date(2012, 8, 15),
    )


@pytest.fixture
def particulier_config() -> ProviderConfig:
    return ProviderConfig(base_url=PARTICULIER, token=TOKEN, timeout=5.0, version="v4")


@pytest.fixture
def cvec_config() -> ProviderConfig:
    return ProviderConfig(base_url=CVEC, timeout=10.0)


@pytest.fixture
def certifinfo_config() -> ProviderConfig:
    return ProviderConfig(base_url=CERTIFINFO, token=TOKEN, timeout=10.0)


@pytest.fixture
def covoiturage_config() -> ProviderConfig:
    return ProviderConfig(base_url=COVOITURAGE, timeout=10.0)
