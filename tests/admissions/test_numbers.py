"""Counts are written as people read them: thousands grouped in the page's language (French:
a narrow no-break space, "20 000"; English: "20,000"), never "20000"."""

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from admissions.templatetags.numbers import number
from tests.factories import InstitutionFactory, UserFactory
from verifications.providers.limits import RateUse
from verifications.templatetags.provider_errors import rate_use


NARROW_NBSP = "\u202f"


def test_number_groups_thousands_in_the_pages_language():
    with translation.override("fr"):
        assert number(20000) == f"20{NARROW_NBSP}000"
        assert number(1234567) == f"1{NARROW_NBSP}234{NARROW_NBSP}567"
        assert number(999) == "999"
        assert number(0) == "0"
    with translation.override("en"):
        assert number(20000) == "20,000"


def test_a_rate_use_groups_its_thousands():
    with translation.override("fr"):
        use = RateUse(scope="source", limit=20000, window=60, used=1500)
        assert rate_use(use) == f"1{NARROW_NBSP}500 / 20{NARROW_NBSP}000 par min"


@pytest.mark.django_db
@override_settings(IMPORT_MAX_ROWS=20000)
def test_the_import_page_writes_its_row_limit_with_a_separator(client):
    client.force_login(UserFactory(institution=InstitutionFactory()))
    page = client.get(reverse("import_upload")).content.decode()
    assert f"20{NARROW_NBSP}000 candidats par fichier" in page
    assert "20000" not in page
