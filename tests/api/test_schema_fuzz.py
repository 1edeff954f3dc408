"""Requests generated from the OpenAPI document (schemathesis), sent to the Django application
through WSGI with a real key of a test institution holding every scope: no answer is a 500,
and every answer is one the document describes (status, content type, body schema).

Deterministic (``derandomize``) and bounded (a few examples per operation). The ids in paths
are those of the institution's own objects, so that the answers checked against the schema are
the resources themselves, not only 404s (unknown and foreign ids: tests/security/)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_key
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from verifications.enums import BatchKind, RequestState, Source, Trigger
from verifications.models import Batch, VerificationRequest


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Read from the application itself (the document holds no data: no database query).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _one_transaction_per_test(settings):
    """The WSGI handler closes the database connection around each request, as it should in a
    server; here the test's transaction must outlive each request (as Django's test client
    arranges)."""
    settings.VIGIE_API_RATE_LIMIT = 100_000
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def seeded(db):
    """A test institution with an applicant, a claim, a finished check and a batch; its key."""
    from admissions.enums import Role

    admin = UserFactory(role=Role.INSTITUTION_ADMIN)
    institution = admin.institution
    applicant = ApplicantFactory(institution=institution, file_reference="FUZZ-1")
    claim = ClaimFactory(applicant=applicant)
    batch = Batch.objects.create(
        institution=institution, kind=BatchKind.VERIFICATION, label="Lot", total=1
    )
    request = VerificationRequest.objects.create(
        institution=institution,
        claim=claim,
        batch=batch,
        source=Source.API_PARTICULIER,
        trigger=Trigger.BATCH,
        state=RequestState.DONE,
        verdict="confirmed",
        reason_code="",
        reason="Confirmé.",
        diff=[{"field": "uai", "declared": "0750655E", "source": "0750655E", "match": True}],
        evidence={"est_scolarise": True},
        evidence_hash="0" * 64,
    )
    ids = {
        "applicant_id": str(applicant.pk),
        "claim_id": str(claim.pk),
        "verification_id": str(request.pk),
        "batch_id": str(batch.pk),
        "file_reference": applicant.file_reference,
    }
    return make_key(admin).secret, ids


@schema.parametrize()
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_500_and_every_answer_fits_the_document(case, seeded):
    secret, ids = seeded
    if case.path_parameters:
        case.path_parameters = {
            name: ids.get(name, value) for name, value in case.path_parameters.items()
        }
    response = case.call(headers={"Authorization": f"Bearer {secret}"})
    case.validate_response(response, checks=CHECKS)
