import os

import pytest


pytest_plugins = ["tests.fixtures.sandbox"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [
        f"vigie: database={db} redis={'yes' if os.environ.get('REDIS_URL') else 'no'} "
        f"broker={settings.CELERY_BROKER_URL.split('://', 1)[0]}"
    ]


@pytest.fixture(autouse=True)
def _isolated_caches(settings):
    """Each test starts with empty caches."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
