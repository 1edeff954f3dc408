import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from admissions import services
from admissions.enums import AuditAction
from admissions.models import Applicant, AuditEvent
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from verifications.enums import ClaimKind, Source
from verifications.models import Claim, InstitutionCredential
from verifications.services import claims as claim_services
from verifications.services import credentials as credential_services


pytestmark = pytest.mark.django_db

IDENTITY = {
    "file_reference": "DOS-1",
    "birth_name": "Martin",
    "first_names": ["Emma"],
    "sex": "F",
    "birth_date": dt.date(2012, 8, 15),
}


def test_applicant_create_records_applicant_claims_and_audit():
    clerk = UserFactory()
    applicant = services.applicant_create(
        acting_user=clerk,
        identity=IDENTITY,
        claims=[(ClaimKind.SCOLARITE, {"uai": "0132733A", "school_year": "2025"})],
        ip="192.0.2.10",
    )
    assert applicant.institution == clerk.institution
    claim = applicant.claims.get()
    assert claim.institution_id == clerk.institution_id
    assert claim.declared == {"uai": "0132733A", "school_year": 2025}
    events = AuditEvent.objects.filter(applicant_id=applicant.pk).order_by("seq")
    assert [(e.action, e.object_type) for e in events] == [
        (AuditAction.CREATED, "applicant"),
        (AuditAction.CREATED, "claim"),
    ]
    assert {e.actor_id for e in events} == {clerk.pk}
    assert events[0].ip == "192.0.2.10"


def test_a_bad_claim_leaves_nothing_behind():
    """Everything is validated before anything is written."""
    clerk = UserFactory()
    with pytest.raises(ValidationError) as exc:
        services.applicant_create(
            acting_user=clerk,
            identity=IDENTITY,
            claims=[(ClaimKind.SCOLARITE, {"uai": "0210015D", "school_year": "2025"})],
        )
    assert "uai" in exc.value.message_dict
    assert not Applicant.objects.exists()
    assert not AuditEvent.objects.exists()


def test_file_reference_is_unique_per_institution_only():
    clerk = UserFactory()
    services.applicant_create(acting_user=clerk, identity=IDENTITY)
    with pytest.raises(ValidationError) as exc:
        services.applicant_create(acting_user=clerk, identity=IDENTITY)
    assert "DOS-1" in exc.value.message_dict["file_reference"][0]
    services.applicant_create(acting_user=UserFactory(), identity=IDENTITY)
    assert Applicant.objects.count() == 2


def test_update_records_which_fields_changed_not_their_values():
    clerk = UserFactory()
    applicant = services.applicant_create(acting_user=clerk, identity=IDENTITY)
    services.applicant_update(
        acting_user=clerk, applicant=applicant, changes={"usage_name": "Dupont", "sex": "F"}
    )
    applicant.refresh_from_db()
    assert applicant.usage_name == "Dupont"
    event = AuditEvent.objects.filter(action=AuditAction.EDITED).get()
    assert event.details == {"fields": ["usage_name"]}
    assert "Dupont" not in str(event.details)


def test_update_of_another_institutions_applicant_is_refused():
    applicant = ApplicantFactory()
    with pytest.raises(PermissionDenied):
        services.applicant_update(
            acting_user=UserFactory(), applicant=applicant, changes={"usage_name": "X"}
        )


def test_changing_a_declaration_clears_its_verdict():
    clerk = UserFactory()
    claim = ClaimFactory(
        applicant=ApplicantFactory(institution=clerk.institution), verdict="confirmed"
    )
    claim_services.claim_update_declared(
        acting_user=clerk, claim=claim, declared={"uai": "0890003V", "school_year": "2025"}
    )
    claim.refresh_from_db()
    assert claim.verdict == ""
    assert claim.declared["uai"] == "0890003V"


def test_user_without_institution_cannot_create_applicants():
    with pytest.raises(PermissionDenied):
        services.applicant_create(acting_user=UserFactory(backoffice=True), identity=IDENTITY)


def test_credentials_are_encrypted_at_rest_and_never_audited_in_clear():
    admin = UserFactory(institution_admin=True)
    token = "eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig"
    credential = credential_services.credential_set(
        acting_user=admin, institution=admin.institution, source=Source.API_PARTICULIER, token=token
    )
    assert InstitutionCredential.objects.get(pk=credential.pk).token == token
    raw = InstitutionCredential.objects.filter(pk=credential.pk).values_list("token", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT token FROM {InstitutionCredential._meta.db_table} WHERE id = %s",
            [credential.pk],
        )
        (stored,) = cursor.fetchone()
    assert token not in stored
    assert list(raw) == [token]  # the ORM decrypts
    event = AuditEvent.objects.get(action=AuditAction.CREDENTIAL_CHANGED)
    assert token not in str(event.details)
    assert event.details["fingerprint"] == credential.fingerprint

    credential_services.credential_set(
        acting_user=admin, institution=admin.institution, source=Source.API_PARTICULIER, token=""
    )
    assert not InstitutionCredential.objects.exists()
    assert Claim.objects.count() == 0
