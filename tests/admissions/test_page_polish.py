"""What every page carries and how it fails: the language menu names each language in its own
words, a favicon (no 404 in the console on a first visit), the product's own 404 page under
DEBUG too, and the erase page names who it erases."""

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings
from django.urls import reverse

from tests.factories import ApplicantFactory, InstitutionFactory, UserFactory


pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client):
    user = UserFactory(institution=InstitutionFactory())
    client.force_login(user)
    return user


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_language_menu_names_each_language_in_its_own_words(client, clerk, language):
    client.cookies["django_language"] = language
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE=language).text
    assert '<option value="en" lang="en"' in page
    assert ">English</option>" in page
    assert ">Français</option>" in page
    assert "Anglais" not in page


def test_pages_link_a_favicon_and_favicon_ico_leads_to_it(client, clerk):
    page = client.get(reverse("home")).text
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"


@pytest.mark.parametrize("debug", [False, True])
def test_another_institutions_applicant_shows_the_products_404_page_in_debug_too(
    client, clerk, debug
):
    foreign = ApplicantFactory(institution=InstitutionFactory())
    with override_settings(DEBUG=debug):
        response = client.get(reverse("applicant_detail", args=[foreign.pk]))
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page introuvable" in page
    assert "Retour au tableau de bord" in page
    assert "Django" not in page
    assert "No Applicant matches" not in page


def test_the_erase_page_names_the_applicant(client):
    institution = InstitutionFactory()
    client.force_login(UserFactory(institution=institution, supervisor=True))
    applicant = ApplicantFactory(institution=institution)
    page = client.get(reverse("applicant_erase", args=[applicant.pk])).text
    assert f"<h1>Effacer {applicant.display_name}</h1>" in page
