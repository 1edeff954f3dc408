"""French counts take French plurals: « 0 candidat », not « 0 candidats ».

Our strings are French and have no French translation; without a catalogue gettext picks the
singular for n == 1 only. locale/fr holds every plural message under the French rule
(``manage.py french_plurals``, run by ``make messages``): these tests check that it is in step
with the sources' messages and that a page then says « 0 candidat enregistré »."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from admissions.management.commands.french_plurals import french_catalogue, french_plurals
from tests.factories import InstitutionFactory, UserFactory


def test_the_french_catalogue_holds_every_plural_message_of_the_sources():
    assert french_catalogue().read_text(encoding="utf-8") == french_plurals(), (
        "locale/fr is out of step with locale/en: run `make messages`"
    )


@pytest.fixture
def french_compiled():
    """The catalogues compiled (make install does it), and Django's cache of them reset."""
    call_command("compile_translations", verbosity=0)
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):  # resets the cache
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("french_compiled")
def test_zero_takes_the_singular_in_french_and_the_plural_in_english(client):
    client.force_login(UserFactory(institution=InstitutionFactory()))
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr").text
    assert "<strong>0</strong> candidat enregistré<" in page
    assert "<strong>0</strong> déclaration à traiter<" in page
    client.cookies["django_language"] = "en"
    page = client.get(reverse("home")).text
    assert "<strong>0</strong> applicants" in page
