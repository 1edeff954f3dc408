import pytest
from django.urls import reverse

from admissions import services
from admissions.models import Applicant, AuditEvent, Institution, User
from tests.factories import ClaimFactory, UserFactory
from verifications.enums import Source
from verifications.models import (
    Batch,
    Claim,
    InstitutionCredential,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.services import credentials as credential_services


pytestmark = pytest.mark.django_db

MODELS = [
    Institution,
    InstitutionCredential,
    User,
    Applicant,
    Claim,
    Batch,
    AuditEvent,
    VerificationRequest,
    VerificationAttempt,
]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(backoffice=True))
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_has_a_changelist(staff_client, model):
    ClaimFactory()
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("model", [AuditEvent, VerificationAttempt], ids=lambda m: m.__name__)
def test_evidence_is_read_only(staff_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    assert staff_client.get(url).status_code == 403


def test_credential_is_write_only(staff_client):
    institution = UserFactory().institution
    token = "eyJhbGciOiJIUzI1NiJ9.very-secret.sig"
    credential = credential_services.credential_set(
        acting_user=None, institution=institution, source=Source.API_PARTICULIER, token=token
    )
    for url in (
        reverse("admin:verifications_institutioncredential_change", args=[credential.pk]),
        reverse("admin:admissions_institution_change", args=[institution.pk]),
        reverse("admin:verifications_institutioncredential_changelist"),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200
        assert token not in response.text
        assert "very-secret" not in response.text
    assert (
        credential.fingerprint
        in staff_client.get(reverse("admin:verifications_institutioncredential_changelist")).text
    )


def test_credential_replaced_through_the_admin_is_encrypted_and_audited(staff_client):
    institution = UserFactory().institution
    url = reverse("admin:verifications_institutioncredential_add")
    response = staff_client.post(
        url,
        {
            "institution": institution.pk,
            "source": Source.CVEC,
            "new_token": "nouveau-jeton",
            "expires_at": "",
        },
    )
    assert response.status_code == 302, response.text
    credential = InstitutionCredential.objects.get()
    assert credential.token == "nouveau-jeton"
    assert (
        AuditEvent.objects.filter(action="credential_changed", institution=institution).count() == 1
    )


def test_staff_can_search_audit_events(staff_client):
    clerk = UserFactory()
    services.applicant_create(
        acting_user=clerk,
        identity={
            "file_reference": "X-1",
            "birth_name": "Martin",
            "first_names": ["Emma"],
            "sex": "F",
            "birth_date": "2012-08-15",
        },
    )
    url = reverse("admin:admissions_auditevent_changelist") + f"?q={clerk.username}"
    response = staff_client.get(url)
    assert response.status_code == 200
    assert "Martin" not in response.text  # the trail names objects by id, never identities
    assert clerk.username in response.text
