"""What one check costs the database, pinned: the SQL statements of one ``verification_run``
of each source, counted exactly as Django's ``CaptureQueriesContext`` counts them (BEGIN and
COMMIT included), so that a statement added to the worker's path fails ``make test`` (issue
18; docs/PERFORMANCE.md §The cost of one check).

``transaction=True``: the worker runs outside any transaction, as in production (inside a
test's transaction every ``atomic`` block would add a savepoint). PostgreSQL only: the finish
and the audit append are single statements there (``pipeline/record.py``,
``admissions/audit.py``); elsewhere they are sent one by one.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admissions.audit import audit_chains_verify
from sandbox.population import (
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for
from verifications.enums import ClaimKind, RequestState, Trigger, Verdict
from verifications.models import VerificationRequest
from verifications.services import verification_run
from verifications.services.batches import batch_verification_launch
from verifications.services.requests import verification_requests_create


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sandbox_settings"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counted on PostgreSQL"),
]

CONFIRMED = [
    (ClaimKind.SCOLARITE, {"scolarite": ScolariteOutcome.ENROLLED}),
    (ClaimKind.CVEC, {"cvec": CvecOutcome.VALID}),
    (ClaimKind.CERTIFICATION, {"certification": CertificationOutcome.ACTIVE}),
    (ClaimKind.COVOITURAGE, {"covoiturage": CovoiturageOutcome.OK}),
]

# One check that ends with a verdict, in order (before issue 18: 16 to 18):
#  1. UPDATE verificationrequest ... (claim the row: gates 1 to 3, pipeline/gates.py)
#  2. SELECT verificationrequest JOIN claim, applicant, institution, with the stored token
#     and whether an alert is open (services/run.py, _load)
#     --- the call, outside any transaction; then one transaction:
#  3. BEGIN
#  4. INSERT verificationattempt (one row per upstream call, one statement)
#  5. WITH done AS (UPDATE verificationrequest ...), applied AS (UPDATE claim ...),
#     previous AS (SELECT the claim's last definitive check), locked AS (SELECT batch ...
#     FOR UPDATE) SELECT ... (pipeline/record.py, _FINISH_SQL)
#  6. WITH locked AS (pg_advisory_xact_lock), head AS (...) INSERT INTO auditevent ...
#     SELECT (the audit chain's append: admissions/audit.py, _APPEND_SQL)
#  7. COMMIT
# A re-check (the claim has a verdict) reads the previous one in statement 5: no more.
FIRST_CHECK = 7
# In a verification batch, after the finish took the batch's lock and before the audit event:
#  +1 UPDATE batch SET status = done WHERE ... AND NOT EXISTS (an open request of the batch)
IN_A_BATCH = 1


def _statements(request_id: int) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        outcome = verification_run(request_id=request_id, task_id="t", worker="w")
    assert outcome.status == "done", outcome
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize(("kind", "outcome"), CONFIRMED, ids=[k for k, _ in CONFIRMED])
def test_a_first_check_and_a_recheck(kind, outcome):
    institution = InstitutionFactory()
    claim = claim_for(person_with(**outcome), kind, institution)
    first = _statements(request_for(claim).pk)
    assert len(first) == FIRST_CHECK, "\n".join(first)
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONFIRMED

    again = _statements(request_for(claim).pk)
    assert len(again) == FIRST_CHECK, "\n".join(again)
    assert [r.breaks for r in audit_chains_verify(str(institution.pk))] == [[]]


@pytest.mark.parametrize(("kind", "outcome"), CONFIRMED, ids=[k for k, _ in CONFIRMED])
def test_a_check_in_a_batch(kind, outcome):
    institution = InstitutionFactory()
    user = UserFactory(institution=institution)
    claims = [claim_for(person_with(**outcome), kind, institution) for _ in range(2)]
    batch = batch_verification_launch(acting_user=user, claims=claims)
    first, last = VerificationRequest.objects.filter(batch=batch).order_by("pk")
    statements = _statements(first.pk)
    assert len(statements) == FIRST_CHECK + IN_A_BATCH, "\n---\n".join(s[:150] for s in statements)
    # The last one marks the batch done with that same UPDATE.
    assert len(_statements(last.pk)) == FIRST_CHECK + IN_A_BATCH
    batch.refresh_from_db()
    assert batch.status == "done"

    # The scheduler's re-check of claims that have a verdict (no batch).
    verification_requests_create(claims=claims, acting_user=None, trigger=Trigger.SCHEDULED)
    again = VerificationRequest.objects.filter(claim=claims[0], state=RequestState.PENDING).get()
    assert len(_statements(again.pk)) == FIRST_CHECK
