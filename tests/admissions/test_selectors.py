"""Tenant scoping: a user of institution A never gets institution B's objects."""

import pytest
from django.http import Http404

from admissions import selectors
from admissions.audit import audit_record
from admissions.enums import AuditAction
from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from verifications import selectors as verification_selectors
from verifications.enums import BatchKind
from verifications.models import Batch


pytestmark = pytest.mark.django_db


@pytest.fixture
def two_institutions():
    a, b = InstitutionFactory(), InstitutionFactory()
    data = {}
    for inst in (a, b):
        claim = ClaimFactory(applicant=ApplicantFactory(institution=inst))
        batch = Batch.objects.create(institution=inst, kind=BatchKind.IMPORT, label="lot")
        event = audit_record(
            action=AuditAction.VIEWED,
            actor=None,
            institution=inst,
            obj=claim.applicant,
            applicant_id=claim.applicant_id,
        )
        data[inst.pk] = {
            "claim": claim,
            "applicant": claim.applicant,
            "batch": batch,
            "event": event,
        }
    return a, b, data


def test_lists_only_hold_the_users_institution(two_institutions):
    a, b, data = two_institutions
    user = UserFactory(institution=a)
    assert list(selectors.applicants_for_user(user)) == [data[a.pk]["applicant"]]
    assert list(verification_selectors.claims_for_user(user)) == [data[a.pk]["claim"]]
    assert list(verification_selectors.batches_for_user(user)) == [data[a.pk]["batch"]]
    events = selectors.audit_events_for_user(user)
    assert data[a.pk]["event"] in events
    assert data[b.pk]["event"] not in events
    assert {e.institution_id for e in events} == {a.pk}


@pytest.mark.parametrize(
    ("getter", "key", "kwarg"),
    [
        (selectors.applicant_get_for_user, "applicant", "applicant_id"),
        (verification_selectors.claim_get_for_user, "claim", "claim_id"),
        (verification_selectors.batch_get_for_user, "batch", "batch_id"),
    ],
)
def test_foreign_ids_answer_404(two_institutions, getter, key, kwarg):
    a, b, data = two_institutions
    user = UserFactory(institution=a)
    assert getter(user=user, **{kwarg: data[a.pk][key].pk}) == data[a.pk][key]
    with pytest.raises(Http404):
        getter(user=user, **{kwarg: data[b.pk][key].pk})


def test_user_without_institution_sees_nothing(two_institutions):
    staff = UserFactory(backoffice=True)
    assert not selectors.applicants_for_user(staff).exists()
    assert not verification_selectors.claims_for_user(staff).exists()
    assert not selectors.audit_events_for_user(staff).exists()


def test_applicant_timeline_is_scoped(two_institutions):
    a, b, data = two_institutions
    user_b = UserFactory(institution=b)
    assert not selectors.audit_events_for_applicant(
        user=user_b, applicant=data[a.pk]["applicant"]
    ).exists()
