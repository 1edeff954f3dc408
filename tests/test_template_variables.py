"""No template reads a variable or an attribute that does not exist.

Django renders a missing variable as "" (``string_if_invalid``), so a typo or a renamed
attribute fails silently: the dashboard's « Débit utilisé » column read ``breaker.usage``,
which never existed, and showed « — ». Here the main pages are rendered, as each
role, with ``string_if_invalid`` set to a marker naming the variable, and no marker may appear.
A page added to the product is checked by adding its URL to ``pages()``."""

import copy
import logging
import re

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from sandbox.population import CvecOutcome, ScolariteOutcome
from tests.factories import ApplicantFactory, InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import BatchKind, ClaimKind
from verifications.models import Batch


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]

MARKER = "@@missing:%s@@"
FOUND = re.compile(r"@@missing:([^@]*)@@")


def _templates_with_marker() -> list[dict]:
    templates = copy.deepcopy(settings.TEMPLATES)
    for engine in templates:
        if engine["BACKEND"].endswith("DjangoTemplates"):
            engine.setdefault("OPTIONS", {})["string_if_invalid"] = MARKER
    return templates


@pytest.fixture
def files():
    """An institution with what its pages show: checked claims, a batch, an import batch."""
    institution = InstitutionFactory()
    checked = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    run_until_done(request_for(checked))
    mismatch = claim_for(person_with(cvec=CvecOutcome.HOLDER_MISMATCH), ClaimKind.CVEC, institution)
    run_until_done(request_for(mismatch))
    ApplicantFactory(institution=institution)
    admin = UserFactory(institution=institution, institution_admin=True)
    batch = Batch.objects.create(
        institution=institution, kind=BatchKind.VERIFICATION, label="Rentrée", created_by=admin
    )
    imported = Batch.objects.create(
        institution=institution, kind=BatchKind.IMPORT, label="Import", created_by=admin
    )
    return {
        "institution": institution,
        "admin": admin,
        "clerk": UserFactory(institution=institution),
        "applicant": checked.applicant,
        "mismatch": mismatch,
        "batch": batch,
        "imported": imported,
    }


def pages(f) -> list[str]:
    applicant = f["applicant"]
    return [
        reverse("home"),
        reverse("applicant_list"),
        reverse("applicant_list") + "?q=a&needs_me=on",
        reverse("applicant_create"),
        reverse("applicant_edit", args=[applicant.pk]),
        reverse("applicant_detail", args=[applicant.pk]),
        reverse("applicant_detail", args=[f["mismatch"].applicant_id]),
        reverse("claim_add", args=[applicant.pk, ClaimKind.CVEC]),
        reverse("claim_edit", args=[f["mismatch"].pk]),
        reverse("claim_card", args=[f["mismatch"].pk]),
        reverse("batch_list"),
        reverse("batch_new"),
        reverse("batch_detail", args=[f["batch"].pk]),
        reverse("batch_detail", args=[f["imported"].pk]),
        reverse("audit_list"),
        reverse("import_upload"),
        reverse("institution_settings"),
        reverse("applicant_erase", args=[applicant.pk]),
        reverse("applicant_export_page", args=[applicant.pk]),
    ]


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_no_page_reads_a_variable_that_does_not_exist(client, files, role):
    client.force_login(files[role])
    missing = {}
    with override_settings(TEMPLATES=_templates_with_marker()):
        for url in pages(files):
            response = client.get(url)
            assert response.status_code in {200, 403}, (url, response.status_code)
            if found := sorted(set(FOUND.findall(response.content.decode()))):
                missing[url] = found
    assert missing == {}, f"templates read variables that do not exist: {missing}"


def test_the_marker_shows_a_missing_attribute(client, files):
    """The check itself: a read of an attribute that does not exist is caught (the dashboard's
    former ``row.breaker.usage``)."""
    from django.template import engines

    with override_settings(TEMPLATES=_templates_with_marker()):
        template = engines["django"].from_string("{% for row in rows %}{{ row.usage }}{% endfor %}")
        assert FOUND.findall(template.render({"rows": [object()]})) == ["row.usage"]


# Lookups that fail by design: _field.html asks a widget for its input_type, which a Textarea
# does not have (Django's widgets are duck-typed).
ALLOWED = (re.compile(r"^input_type in <django\.forms\.widgets\."),)
LOOKUP = re.compile(r"Failed lookup for key \[(?P<key>[^\]]*)\] in (?P<where>.*)", re.S)


def failed_lookups(records: list[logging.LogRecord]) -> set[str]:
    """The failed lookups on objects among django.template's log records."""
    failures = set()
    for record in records:
        if record.name != "django.template" or not record.exc_info:
            continue
        match = LOOKUP.match(str(record.exc_info[1]))
        if not match:
            continue
        where = match["where"]
        if where.startswith("[{") or where == "None":
            continue
        failure = f"{match['key']} in {re.sub(r' at 0x[0-9a-f]+', '', where)[:120]}"
        if not any(pattern.search(failure) for pattern in ALLOWED):
            failures.add(failure)
    return failures


def test_a_guarded_read_of_a_missing_attribute_is_caught(caplog):
    """The check itself, on the dashboard's former bug: ``{% if row.breaker.usage %}``."""
    from django.template import engines

    from verifications.providers.limits import BreakerState

    breaker = BreakerState(
        source="cvec", state="closed", failures=0, opened_at=None, retry_at=None, last_error=""
    )
    template = engines["django"].from_string(
        "{% if row.breaker.usage %}{{ row.breaker.usage }}{% else %}—{% endif %}"
        "{% if missing_from_context %}{% endif %}{% if none.attribute %}{% endif %}"
    )
    with caplog.at_level(logging.DEBUG, logger="django.template"):
        assert template.render({"row": {"breaker": breaker}, "none": None}) == "—"
    assert [f.split(" in ")[0] for f in failed_lookups(caplog.records)] == ["usage"]


def test_no_page_asks_an_object_for_an_attribute_it_does_not_have(client, files, caplog):
    """Stricter than the marker: a read inside {% if %} or {% for %} renders nothing either way
    (``{% if row.breaker.usage %}`` hid the dashboard's bug). Django logs each failed lookup
    (logger django.template, DEBUG); a failed lookup on an object, not on the context (a
    variable a view may leave out) nor on None (a relation that may be empty), is a bug."""
    client.force_login(files["admin"])
    with caplog.at_level(logging.DEBUG, logger="django.template"):
        for url in pages(files):
            client.get(url)
    failures = failed_lookups(caplog.records)
    assert failures == set(), "templates ask objects for attributes they do not have: " + "; ".join(
        sorted(failures)
    )
