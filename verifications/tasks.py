"""Celery tasks of the verification pipeline: thin wrappers around the services.

Arguments are ids only. Every decision (retry, wait, give up) lives in the database, through
the services; no Celery retry and no countdown longer than a few seconds, so that Redis's
visibility timeout never redelivers a waiting message.
"""

from celery import shared_task

from admissions.verify_on_record import VERIFY_ON_RECORD_TASK
from verifications.analytics import QUEUE_RECOUNT_TASK
from verifications.dashboard_counts import RECOUNT_TASK
from verifications.enqueue import (
    BATCH_EXPORT,
    BATCH_PREPARE,
    CERTIFICATE_ARCHIVE,
    DISPATCH,
    VERIFICATION_RUN,
)


@shared_task(
    bind=True,
    name=VERIFICATION_RUN,
    # Idempotent by construction (a conditional claim of the row), so a message is
    # acknowledged only once the run is over, and put back if the worker process dies.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=45,
    time_limit=60,
)
def verification_run_task(self, request_id: int) -> None:
    from verifications.services import verification_run

    verification_run(request_id=request_id, task_id=self.request.id or "")


@shared_task(name=DISPATCH, ignore_result=True, expires=30)
def verification_dispatch_task() -> None:
    from verifications.services import verification_dispatch

    verification_dispatch()


@shared_task(name=VERIFY_ON_RECORD_TASK, ignore_result=True)
def claims_verify_on_record_task(
    claim_ids: list[int] | None = None,
    import_batch_id: int | None = None,
    acting_user_id: int | None = None,
    ip: str | None = None,
) -> None:
    from verifications.services.batches import import_verify_on_record
    from verifications.services.requests import claims_verify_on_record

    if claim_ids:
        claims_verify_on_record(claim_ids=claim_ids, acting_user_id=acting_user_id, ip=ip)
    if import_batch_id is not None:
        import_verify_on_record(
            import_batch_id=import_batch_id, acting_user_id=acting_user_id, ip=ip
        )


@shared_task(name="verifications.scheduled_reverification", ignore_result=True, expires=240)
def scheduled_reverification_task() -> None:
    from verifications.services.scheduled import scheduled_reverification_tick

    scheduled_reverification_tick()


@shared_task(name="verifications.retention_purge", ignore_result=True)
def retention_purge_task() -> None:
    from verifications.services.retention import retention_purge_tick

    retention_purge_tick()


@shared_task(name="verifications.analytics_rollup", ignore_result=True, expires=540)
def analytics_rollup_task() -> None:
    from verifications.services.analytics_rollup import analytics_rollup_tick

    analytics_rollup_tick()


@shared_task(name=QUEUE_RECOUNT_TASK, ignore_result=True, expires=300)
def analytics_queue_recount_task(institution_id: int, kind: str = "") -> None:
    """Count again an institution's manual queue that the analytics page found stale."""
    from verifications.analytics import manual_queue_recount

    manual_queue_recount(institution_id, kind)


@shared_task(name="verifications.credential_expiry_check", ignore_result=True)
def credential_expiry_check_task() -> None:
    from verifications.services.notifications import credential_expiry_check

    credential_expiry_check()


@shared_task(name=CERTIFICATE_ARCHIVE, ignore_result=True)
def certificate_archive_build_task(archive_id: int) -> None:
    from verifications.services.certificates import certificate_archive_build

    certificate_archive_build(archive_id)


@shared_task(name=RECOUNT_TASK, ignore_result=True)
def dashboard_counts_refresh_task(institution_id: int) -> None:
    """Recount an institution's dashboard counts that a view found stale."""
    from verifications.dashboard_counts import dashboard_counts_recount

    dashboard_counts_recount(institution_id)


@shared_task(name=BATCH_PREPARE, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def batch_prepare_task(batch_id: int) -> None:
    # Idempotent by construction: each part skips the claims the batch already has a request
    # for, under a lock on the batch row (services.batches.batch_prepare).
    from verifications.services.batches import batch_prepare

    batch_prepare(batch_id=batch_id)


@shared_task(name=BATCH_EXPORT, ignore_result=True)
def batch_export_build_task(export_id: int) -> None:
    from verifications.services.exports import batch_export_build

    batch_export_build(export_id)


@shared_task(name="verifications.background_sweep", ignore_result=True, expires=25)
def background_sweep_task() -> None:
    """Background work whose worker was lost: batch preparations sent again, stale exports
    marked failed."""
    from verifications.services.batches import batch_preparations_resend
    from verifications.services.exports import batch_exports_fail_stale

    batch_preparations_resend()
    batch_exports_fail_stale()


@shared_task(name="verifications.exports_expire", ignore_result=True)
def exports_expire_task() -> None:
    from verifications.services.exports import batch_exports_expire

    batch_exports_expire()
