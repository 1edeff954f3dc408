"""The new-applicant form as a clerk meets it: optional claim sections stay quiet until started,
every error is flagged on its field and listed, with a link, in the summary above the form."""

import html

import pytest
from django.urls import reverse

from admissions.models import Applicant
from tests.form_checks import assert_errors_flagged, assert_unique_ids
from tests.html import region


pytestmark = pytest.mark.django_db

IDENTITY = {
    "file_reference": "2026-010",
    "birth_name": "Martin",
    "first_name_1": "Emma",
    "sex": "F",
    "birth_date": "2008-04-09",
}


def _post(client, **data):
    response = client.post(reverse("applicant_create"), data)
    assert response.status_code == 200
    assert not Applicant.objects.exists()
    assert_unique_ids(response.text)
    assert_errors_flagged(response.text, "the new-applicant form")
    return response.text


def test_a_section_not_started_shows_no_error_when_another_field_is_wrong(clerk_client):
    page = _post(clerk_client, **{**IDENTITY, "birth_name": ""})
    assert page.count('class="field-errors"') == 1
    assert 'id="id_birth_name_error"' in page
    assert 'href="#id_birth_name"' in region(page, "error-summary")
    for kind in ("scolarite", "cvec", "certification", "covoiturage"):
        assert f"{kind}-" not in region(page, "error-summary")


def test_a_wrong_uai_alone_is_flagged_and_summarised_with_the_missing_year(clerk_client):
    page = _post(clerk_client, **{**IDENTITY, "scolarite-uai": "123"})
    summary = html.unescape(region(page, "error-summary"))
    # Both errors of the started section, each linked to its field.
    assert 'href="#id_scolarite-uai"' in summary
    assert 'href="#id_scolarite-school_year"' in summary
    assert "Code UAI" in summary
    assert "Année scolaire" in summary
    assert 'id="id_scolarite-uai_error"' in page
    # The other sections, not started, say nothing.
    for kind in ("cvec", "certification", "covoiturage"):
        assert f'id="id_{kind}-' in page
        assert f"id_{kind}-" not in summary


def test_identity_errors_are_all_shown_at_once(clerk_client):
    """A wrong INE is flagged even when a required field is missing too."""
    page = _post(clerk_client, **{**IDENTITY, "birth_name": "", "ine": "123"})
    summary = region(page, "error-summary")
    assert 'href="#id_birth_name"' in summary
    assert 'href="#id_ine"' in summary


def test_an_impossible_birth_date_is_named_as_such(clerk_client):
    page = _post(clerk_client, **{**IDENTITY, "birth_date": "31/02/2006"})
    summary = html.unescape(region(page, "error-summary"))
    assert "La date du 31/02/2006 n'existe pas" in summary
    assert summary.count("<li>") == 1


def test_a_started_section_is_still_required_as_a_whole(clerk_client):
    page = _post(clerk_client, **{**IDENTITY, "cvec-campaign": "2025"})
    summary = html.unescape(region(page, "error-summary"))
    assert 'href="#id_cvec-code"' in summary
    assert "Ce champ est obligatoire." in summary


def test_the_summary_is_punctuated_in_the_pages_language(clerk_client):
    """ "First given name : This field is required." was French punctuation in English (seen
    on make run, the erase page's "…data. : This field…" too)."""
    page = html.unescape(
        region(_post(clerk_client, **{**IDENTITY, "first_name_1": ""}), "error-summary")
    )
    assert "Premier prénom : Ce champ est obligatoire." in page
    clerk_client.cookies["django_language"] = "en"
    page = html.unescape(
        region(_post(clerk_client, **{**IDENTITY, "first_name_1": ""}), "error-summary")
    )
    assert "First given name: This field is required." in page
    assert " : " not in page


def test_a_label_ending_with_a_period_loses_it_before_the_colon(client):
    """The erase page's confirmation box: "I confirm … data." then ": This field is required."."""
    from tests.factories import ApplicantFactory, UserFactory

    admin = UserFactory(institution_admin=True)
    applicant = ApplicantFactory(institution=admin.institution)
    client.force_login(admin)
    response = client.post(reverse("applicant_erase", args=[applicant.pk]), {})
    summary = html.unescape(region(response.text, "error-summary"))
    assert "des données de ce candidat. :" not in summary
    assert "des données de ce candidat : Ce champ est obligatoire." in summary
