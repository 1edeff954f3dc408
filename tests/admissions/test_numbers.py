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


def test_no_template_writes_a_count_without_its_separator():
    """Generated from the templates: a blocktranslate count shows the count through a |number
    variable ({% blocktranslate count counter=n with shown=n|number %}{{ shown }}…), never
    {{ counter }} itself (it would read « 20000 »)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    tag = re.compile(r"\{% blocktranslate ([^%]*?)%\}(.*?)\{% endblocktranslate %\}", re.S)
    raw = []
    for path in sorted(root.rglob("*.html")):
        for options, body in tag.findall(path.read_text(encoding="utf-8")):
            count = re.search(r"(?:^|\s)count (\w+)=", options)
            if count and "{{ " + count[1] + " }}" in body:
                raw.append(f"{path.relative_to(root)}: {body[:60]}")
    assert raw == [], f"counts shown without a thousands separator: {raw}"
