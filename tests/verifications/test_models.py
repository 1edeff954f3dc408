import pytest
from django.db import connection, transaction

from admissions.infra.append_only import AppendOnlyError
from tests.factories import ClaimFactory
from verifications.enums import Source
from verifications.models import VerificationAttempt, VerificationRequest


pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt():
    claim = ClaimFactory()
    request = VerificationRequest.objects.create(
        institution=claim.institution, claim=claim, source=Source.API_PARTICULIER, trigger="manual"
    )
    return VerificationAttempt.objects.create(
        request=request, source=request.source, outcome="answered", http_status=200
    )


def test_attempts_cannot_be_changed_through_the_orm(attempt):
    attempt.http_status = 500
    with pytest.raises(AppendOnlyError):
        attempt.save()
    with pytest.raises(AppendOnlyError):
        attempt.delete()
    with pytest.raises(AppendOnlyError):
        VerificationAttempt.objects.filter(pk=attempt.pk).update(http_status=500)
    with pytest.raises(AppendOnlyError):
        VerificationAttempt.objects.filter(pk=attempt.pk).delete()
    assert VerificationAttempt.objects.get(pk=attempt.pk).http_status == 200


@pytest.mark.postgres
def test_postgresql_refuses_update_of_attempts(attempt):
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (set DATABASE_URL)")
    table = VerificationAttempt._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        with pytest.raises(Exception, match="append-only"):
            cursor.execute(f'UPDATE "{table}" SET http_status = 500 WHERE id = %s', [attempt.pk])
        transaction.set_rollback(True)


def test_one_open_request_per_claim_is_enforced_by_the_database():
    from django.db import IntegrityError

    claim = ClaimFactory()
    fields = {
        "institution": claim.institution,
        "claim": claim,
        "source": Source.CVEC,
        "trigger": "manual",
    }
    VerificationRequest.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        VerificationRequest.objects.create(**fields)
    VerificationRequest.objects.create(**fields, state="done")  # finished ones are history
