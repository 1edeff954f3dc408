"""The new-batch form chooses the claim kinds one way: the "Déclarations à vérifier" boxes (no
"Type de déclaration" select beside them). The applicant list's one-kind filter, carried by
"Vérifier cette sélection", arrives as that box checked, and the cohort follows it."""

import re

import pytest
from django.urls import reverse

from tests.factories import ApplicantFactory, ClaimFactory
from tests.form_checks import assert_errors_flagged, assert_unique_ids


pytestmark = pytest.mark.django_db


def test_the_kinds_are_chosen_by_checkboxes_only(supervisor_client):
    page = supervisor_client.get(reverse("batch_new")).text
    assert 'name="kind"' not in page
    assert "Type de déclaration" not in page
    assert len(re.findall(r'<input type="checkbox" name="kinds"', page)) == 4
    assert_unique_ids(page)


def test_the_lists_kind_filter_arrives_as_its_box_checked(supervisor_client, supervisor):
    page = supervisor_client.get(reverse("batch_new"), {"kind": "cvec"}).text
    assert re.search(r'name="kinds" value="cvec"[^>]*checked', page)
    assert not re.search(r'name="kinds" value="scolarite"[^>]*checked', page)
    applicant = ApplicantFactory(institution=supervisor.institution)
    ClaimFactory(applicant=applicant, kind="cvec", declared={"code": "A1B2C3D4"})
    ClaimFactory(applicant=applicant, kind="scolarite")
    confirm = supervisor_client.get(reverse("batch_launch"), {"kind": "cvec"})
    assert confirm.status_code == 200
    assert confirm.context["summary"].to_send == 1


def test_a_wrong_kind_is_flagged_on_the_boxes_and_summarised(supervisor_client):
    response = supervisor_client.get(reverse("batch_launch"), {"kinds": "passeport"})
    assert response.status_code == 400
    assert 'href="#id_kinds_0"' in response.text
    assert_errors_flagged(response.text, "the new-batch form")
