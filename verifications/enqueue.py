"""Sending the pipeline's tasks to the workers, by their Celery names.

The tasks (``verifications.tasks``) call the services, and two services send tasks: a single
request's run once its row is committed (``services/requests.py``), the dispatcher's runs and
a dispatcher tick when a batch starts or resumes (``services/dispatch.py``,
``services/batches.py``). They send them through here, by name, from Celery's registry, not by
importing the tasks module: the imports flow one way, tasks → services → this module
(``tests/test_imports.py``). The tasks module takes its names from here, so that the two cannot
drift apart; ``VerificationsConfig.ready`` imports it, so every process has the tasks
registered before it sends one.
"""

from typing import Any

from celery import Task, current_app


VERIFICATION_RUN = "verifications.verification_run"
DISPATCH = "verifications.dispatch"
CERTIFICATE_ARCHIVE = "verifications.certificate_archive_build"
BATCH_PREPARE = "verifications.batch_prepare"
BATCH_EXPORT = "verifications.batch_export_build"


def _task(name: str) -> Task:
    return current_app.tasks[name]


def verification_run_enqueue(request_id: int, **options: Any) -> None:
    """Send the run of one verification request (``options``: ``apply_async``'s)."""
    _task(VERIFICATION_RUN).apply_async(args=(request_id,), **options)


def verification_dispatch_enqueue(**options: Any) -> None:
    """Send one dispatcher tick now, rather than at beat's next one."""
    _task(DISPATCH).apply_async(**options)


def broker_url() -> str:
    """The broker the tasks are sent to."""
    return current_app.conf.broker_url or ""


def certificate_archive_enqueue(archive_id: int) -> None:
    """Send the building of a batch's certificate archive."""
    _task(CERTIFICATE_ARCHIVE).apply_async(args=(archive_id,), retry=False)


def batch_prepare_enqueue(batch_id: int) -> None:
    """Send the preparation of a verification batch launched on a cohort."""
    _task(BATCH_PREPARE).apply_async(args=(batch_id,), retry=False)


def batch_export_enqueue(export_id: int) -> None:
    """Send the writing of a batch's results file."""
    _task(BATCH_EXPORT).apply_async(args=(export_id,), retry=False)
