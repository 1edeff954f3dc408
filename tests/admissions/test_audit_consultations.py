"""Opening an applicant's page is a consultation in the audit trail: once per person, applicant
and purpose within VIGIE_AUDIT_VIEW_WINDOW_SECONDS, never for the page a save redirects to
(docs/SECURITY.md §The audit trail)."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory


pytestmark = pytest.mark.django_db


def _views(applicant_id: int) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=AuditAction.VIEWED, applicant_id=applicant_id).order_by(
            "seq"
        )
    )


def test_reloading_the_page_records_one_consultation(clerk, clerk_client):
    applicant = ClaimFactory(applicant=ApplicantFactory(institution=clerk.institution)).applicant
    url = reverse("applicant_detail", args=[applicant.pk])
    for _ in range(5):
        assert clerk_client.get(url).status_code == 200
    [event] = _views(applicant.pk)
    assert (event.actor, event.object_type, event.object_id) == (
        clerk,
        "applicant",
        str(applicant.pk),
    )


def test_a_consultation_after_the_window_is_recorded_again(clerk, clerk_client, settings):
    settings.VIGIE_AUDIT_VIEW_WINDOW_SECONDS = 900
    applicant = ApplicantFactory(institution=clerk.institution)
    url = reverse("applicant_detail", args=[applicant.pk])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        clerk_client.get(url)
    with time_machine.travel(start + timedelta(seconds=899), tick=False):
        clerk_client.get(url)
    assert len(_views(applicant.pk)) == 1
    with time_machine.travel(start + timedelta(seconds=901), tick=False):
        clerk_client.get(url)
    assert len(_views(applicant.pk)) == 2


def test_each_person_and_each_applicant_is_recorded(clerk, clerk_client, client):
    first = ApplicantFactory(institution=clerk.institution)
    second = ApplicantFactory(institution=clerk.institution)
    clerk_client.get(reverse("applicant_detail", args=[first.pk]))
    clerk_client.get(reverse("applicant_detail", args=[second.pk]))
    colleague = UserFactory(institution=clerk.institution)
    client.force_login(colleague)
    client.get(reverse("applicant_detail", args=[first.pk]))
    assert [e.actor for e in _views(first.pk)] == [clerk, colleague]
    assert [e.actor for e in _views(second.pk)] == [clerk]


def test_the_page_a_save_redirects_to_is_not_a_consultation(clerk, clerk_client):
    """Creating an applicant and then its claims: each save is in the trail, the pages they
    redirect to are not consultations."""
    data = {
        "file_reference": "DOS-1",
        "birth_name": "Martin",
        "first_name_1": "Emma",
        "sex": "F",
        "birth_date": "2006-04-09",
    }
    response = clerk_client.post(reverse("applicant_create"), data, follow=True)
    assert response.status_code == 200
    applicant = response.context["applicant"]
    edit = {**data, "usage_name": "Dupont"}
    response = clerk_client.post(reverse("applicant_edit", args=[applicant.pk]), edit, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain
    assert _views(applicant.pk) == []
    writes = AuditEvent.objects.filter(applicant_id=applicant.pk, actor=clerk)
    assert set(writes.values_list("action", flat=True)) == {AuditAction.CREATED, AuditAction.EDITED}


def test_a_zero_window_records_every_page_load(clerk, clerk_client, settings):
    settings.VIGIE_AUDIT_VIEW_WINDOW_SECONDS = 0
    applicant = ApplicantFactory(institution=clerk.institution)
    url = reverse("applicant_detail", args=[applicant.pk])
    clerk_client.get(url)
    clerk_client.get(url)
    assert len(_views(applicant.pk)) == 2
