"""The dashboard's counts: the institution's own, counted once for all its users, recounted
by a worker once stale so that no clerk waits for it, and there and then when too old."""

from datetime import timedelta

import pytest
import time_machine
from celery.signals import before_task_publish

from tests.factories import ApplicantFactory, ClaimFactory, InstitutionFactory, UserFactory
from verifications.dashboard_counts import STALE_FACTOR, dashboard_counts


pytestmark = pytest.mark.django_db
START = "2026-11-23 10:00 +00:00"


def test_counts_are_the_institutions_own(settings):
    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 0  # counted on every call
    a, b = InstitutionFactory(), InstitutionFactory()
    kind = ClaimFactory(applicant=ApplicantFactory(institution=a)).kind
    ClaimFactory(applicant=ApplicantFactory(institution=a), kind=kind, verdict="confirmed")
    ClaimFactory(applicant=ApplicantFactory(institution=a), kind=kind, verdict="mismatch")
    ClaimFactory(applicant=ApplicantFactory(institution=b), kind=kind)
    counts = dashboard_counts(UserFactory(institution=a))
    assert counts.by_kind_and_verdict == {
        (kind, ""): 1,
        (kind, "confirmed"): 1,
        (kind, "mismatch"): 1,
    }
    assert (counts.applicants, counts.needing_attention) == (3, 1)
    other = dashboard_counts(UserFactory(institution=b))
    assert (other.by_kind_and_verdict, other.applicants) == ({(kind, ""): 1}, 1)


def test_counted_once_for_every_user_then_recounted_by_a_worker_when_stale(
    settings, django_assert_num_queries
):
    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 30
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the worker's recount, run in this process
    institution = InstitutionFactory()
    user, colleague = UserFactory(institution=institution), UserFactory(institution=institution)
    with time_machine.travel(START, tick=False) as traveller:
        first = dashboard_counts(user)
        ApplicantFactory(institution=institution)
        traveller.shift(timedelta(seconds=29))
        with django_assert_num_queries(0):
            assert dashboard_counts(colleague) == first
        traveller.shift(timedelta(seconds=2))  # 31 s old: stale
        stale = dashboard_counts(user)
        assert stale == first  # served as it was; the recount ran in the "worker"
        with django_assert_num_queries(0):
            recounted = dashboard_counts(colleague)
        assert recounted.applicants == first.applicants + 1
        assert recounted.computed_at > first.computed_at


def test_one_recount_is_sent_while_it_is_pending(settings):
    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 30
    institution = InstitutionFactory()
    user = UserFactory(institution=institution)
    sent = []

    def count(sender=None, **kwargs):
        if sender == "admissions.dashboard_counts_refresh":
            sent.append(kwargs["body"])

    before_task_publish.connect(count)
    try:
        with time_machine.travel(START, tick=False) as traveller:
            dashboard_counts(user)
            traveller.shift(timedelta(seconds=40))
            for _ in range(3):
                dashboard_counts(user)
    finally:
        before_task_publish.disconnect(count)
    assert len(sent) == 1  # nobody consumed it (no worker here): sent once, not three times


def test_counts_too_old_are_counted_there_and_then(settings):
    """No worker recounted them (none running): past STALE_FACTOR periods the view counts."""
    settings.VIGIE_DASHBOARD_COUNTS_SECONDS = 30
    institution = InstitutionFactory()
    user = UserFactory(institution=institution)
    with time_machine.travel(START, tick=False) as traveller:
        first = dashboard_counts(user)
        ApplicantFactory(institution=institution)
        traveller.shift(timedelta(seconds=30 * STALE_FACTOR + 1))
        later = dashboard_counts(user)
    assert later.applicants == first.applicants + 1
