"""A batch launched on a cohort is prepared in the background (``batches.batch_verification_start``
and ``batch_prepare``), and a batch's results XLSX is written in the background and kept for a
while (``services.exports``): what the services do, run in-process here (the worker tests run
them in real worker processes: tests/workers/test_background_batches.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from bench.stack import free_port
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from verifications.enums import BatchStatus, RequestState, Trigger, Verdict
from verifications.models import Batch, BatchExport, VerificationRequest
from verifications.selectors import batch_progress
from verifications.services import verification_request_create
from verifications.services.batches import (
    batch_finish_if_complete,
    batch_prepare,
    batch_verification_start,
)
from verifications.services.exports import (
    batch_export_build,
    batch_export_request,
    batch_exports_expire,
)


pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def supervisor():
    return UserFactory(supervisor=True)


def _claims(user, n: int, kind: str = "cvec") -> list:
    return [
        ClaimFactory(
            applicant=ApplicantFactory(institution=user.institution),
            kind=kind,
            declared={"code": f"BDX{i:09d}", "campaign": 2025},
        )
        for i in range(n)
    ]


def test_the_launch_writes_no_check_and_the_preparation_writes_each_once(
    supervisor, django_capture_on_commit_callbacks
):
    claims = _claims(supervisor, 5)
    busy = claims[0]
    verification_request_create(claim=busy, acting_user=supervisor, trigger=Trigger.MANUAL)
    with django_capture_on_commit_callbacks() as sent:
        batch = batch_verification_start(
            acting_user=supervisor, cohort={"kinds": ["cvec"]}, label="Rentrée", ip="10.0.0.1"
        )
    assert len(sent) == 1  # the preparation's task, once the batch is committed
    assert batch.status == BatchStatus.PREPARING
    assert batch.to_prepare == 5
    assert not VerificationRequest.objects.filter(batch=batch).exists()
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED, object_type="batch")
    assert event.details == {"count": 5, "trigger": "batch", "background": True}
    assert event.ip == "10.0.0.1"
    # A claim recorded after the launch is not in the cohort launched.
    late = _claims(supervisor, 1)[0]

    batch_prepare(batch_id=batch.pk)
    batch_prepare(batch_id=batch.pk)  # a redelivered message: nothing more
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    requests = VerificationRequest.objects.filter(batch=batch)
    checked = set(requests.values_list("claim_id", flat=True))
    assert checked == {c.pk for c in claims[1:]}  # the busy one left to its own check
    assert batch.total == 4
    assert batch.prepared == 5
    assert late.pk not in checked
    assert AuditEvent.objects.filter(action=AuditAction.VERIFICATION_REQUESTED).count() == 2


def test_a_batch_being_prepared_is_not_finished_by_its_first_checks(supervisor, client):
    claims = _claims(supervisor, 3)
    batch = batch_verification_start(acting_user=supervisor, cohort={"kinds": ["cvec"]})
    client.force_login(supervisor)
    url = reverse("batch_progress", args=[batch.pk])
    fragment = client.get(url, headers=HTMX).text
    assert "Préparation : 0 / 3" in fragment
    assert "hx-trigger" in fragment  # polled while prepared
    progress = batch_progress(user=supervisor, batch=batch)
    assert progress.preparing
    assert not progress.finished

    # A first part written and its checks ended before the rest is written.
    from verifications.services.requests import verification_requests_create

    verification_requests_create(
        claims=claims[:1], acting_user=supervisor, trigger=Trigger.BATCH, batch=batch, audit=False
    )
    Batch.objects.filter(pk=batch.pk).update(prepared=1)
    VerificationRequest.objects.filter(batch=batch).update(
        state=RequestState.DONE, verdict=Verdict.CONFIRMED, finished_at=timezone.now()
    )
    assert not batch_finish_if_complete(batch_id=batch.pk)
    fragment = client.get(url, headers=HTMX).text
    assert "Préparation : 1 / 3" in fragment
    assert "Terminé" not in fragment

    batch_prepare(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    assert batch.total == 3


def test_a_broker_down_at_the_launch_delays_the_preparation_and_loses_nothing(
    supervisor, client, settings, django_capture_on_commit_callbacks
):
    from verifications.services.batches import batch_preparations_resend

    _claims(supervisor, 2)
    broker = settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    client.force_login(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("batch_launch"), {"kinds": ["cvec"]})
    batch = Batch.objects.get()
    assert response["Location"] == reverse("batch_detail", args=[batch.pk])
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PREPARING  # the row is the outbox
    page = client.get(reverse("batch_detail", args=[batch.pk])).text
    assert "Préparation : 0 / 2" in page
    assert 'hx-get="{}"'.format(reverse("batch_progress", args=[batch.pk])) in page

    settings.CELERY_BROKER_URL = broker  # back
    later = timezone.now() + timedelta(seconds=settings.VIGIE_BATCH_PREPARE_STALE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_preparations_resend(now=later) == 1


def test_an_export_in_the_readers_language_once_per_batch_and_kept_for_its_retention(
    supervisor, client, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.VIGIE_EXPORT_RETENTION_HOURS = 24
    claims = _claims(supervisor, 2)
    batch = batch_verification_start(acting_user=supervisor, cohort={"kinds": ["cvec"]})
    batch_prepare(batch_id=batch.pk)
    export = batch_export_request(batch=batch, acting_user=supervisor, language="fr")
    # Asked again while it is written: the same one.
    assert batch_export_request(batch=batch, acting_user=supervisor, language="fr") == export
    batch_export_build(export.pk)
    batch_export_build(export.pk)  # a redelivered message finds it written
    export.refresh_from_db()
    assert export.state == BatchExport.State.DONE
    assert export.total == len(claims)
    path = tmp_path / export.file.name
    assert path.exists()

    client.force_login(supervisor)
    link = reverse("batch_export_download", args=[batch.pk, export.pk])
    assert client.get(link).status_code == 200
    downloads = AuditEvent.objects.filter(action=AuditAction.EXPORTED)
    assert [e.details for e in downloads] == [{"format": "xlsx", "rows": 2}]

    assert batch_exports_expire(now=timezone.now() + timedelta(hours=23)) == 0
    assert path.exists()
    assert batch_exports_expire(now=timezone.now() + timedelta(hours=25)) == 1
    assert not path.exists()
    export.refresh_from_db()
    assert export.expired_at is not None
    assert not export.file
    assert client.get(link).status_code == 404
    panel = client.get(reverse("batch_exports", args=[batch.pk])).text
    assert "fichier supprimé le" in panel
    assert link not in panel
    assert batch_exports_expire(now=timezone.now() + timedelta(hours=50)) == 0


def test_the_progress_panel_is_answered_304_while_it_would_be_the_same(supervisor, client):
    from verifications.services.batches import batch_pause

    claims = _claims(supervisor, 3)
    batch = batch_verification_start(acting_user=supervisor, cohort={"kinds": ["cvec"]})
    client.force_login(supervisor)
    url = reverse("batch_progress", args=[batch.pk])
    page = client.get(reverse("batch_detail", args=[batch.pk])).text
    first = client.get(url, headers=HTMX)
    assert first.status_code == 200
    etag = first["ETag"]
    assert f'data-etag="{etag.replace(chr(34), "&quot;")}"' in page  # the page gives it
    assert client.get(url, headers={**HTMX, "If-None-Match": etag}).status_code == 304

    batch_prepare(batch_id=batch.pk)  # prepared: another panel
    running = client.get(url, headers={**HTMX, "If-None-Match": etag})
    assert running.status_code == 200
    assert "0 sur 3 vérifiées" in running.text
    assert "data-poll-backoff" not in running.text
    VerificationRequest.objects.filter(claim=claims[0]).update(
        state=RequestState.DONE, verdict=Verdict.CONFIRMED, finished_at=timezone.now()
    )
    one_done = client.get(url, headers={**HTMX, "If-None-Match": running["ETag"]})
    assert one_done.status_code == 200
    assert "1 sur 3 vérifiées" in one_done.text

    batch_pause(batch=batch, acting_user=supervisor)
    paused = client.get(url, headers={**HTMX, "If-None-Match": one_done["ETag"]})
    assert paused.status_code == 200
    assert "data-poll-backoff" in paused.text  # polled less and less often while paused
    assert client.get(url, headers={**HTMX, "If-None-Match": paused["ETag"]}).status_code == 304


def test_a_preparation_whose_worker_was_lost_is_sent_again_once_per_period(
    supervisor, settings, django_capture_on_commit_callbacks
):
    from verifications.services.batches import batch_preparations_resend

    settings.VIGIE_BATCH_PREPARE_STALE_SECONDS = 60
    _claims(supervisor, 2)
    batch = batch_verification_start(acting_user=supervisor, cohort={"kinds": ["cvec"]})
    now = timezone.now()
    assert batch_preparations_resend(now=now) == 0  # just launched
    later = now + timedelta(seconds=61)
    with django_capture_on_commit_callbacks():
        assert batch_preparations_resend(now=later) == 1  # no part written in a minute
    assert batch_preparations_resend(now=later + timedelta(seconds=30)) == 0  # sent just now
    batch_prepare(batch_id=batch.pk)
    assert batch_preparations_resend(now=later + timedelta(hours=1)) == 0  # prepared


def test_an_export_whose_worker_was_lost_fails_and_a_new_one_can_be_asked(supervisor):
    from verifications.services.exports import batch_exports_fail_stale

    _claims(supervisor, 1)
    batch = batch_prepare(
        batch_id=batch_verification_start(acting_user=supervisor, cohort={"kinds": ["cvec"]}).pk
    )
    export = batch_export_request(batch=batch, acting_user=supervisor, language="fr")
    now = timezone.now()
    assert batch_exports_fail_stale(now=now + timedelta(minutes=10)) == 0
    assert batch_exports_fail_stale(now=now + timedelta(minutes=31)) == 1
    export.refresh_from_db()
    assert export.state == BatchExport.State.FAILED
    again = batch_export_request(batch=batch, acting_user=supervisor, language="fr")
    assert again.pk != export.pk
