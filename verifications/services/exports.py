"""A batch's results as an XLSX file, written in the background.

Writing 40,000 rows to XLSX takes about 20 s: too long for a request. As a batch's certificates
(``services.certificates``: ``certificate_archive_request`` / ``certificate_archive_build``),
the page asks for the file (``batch_export_request``: a ``BatchExport`` row, the task sent on
commit), a worker writes it with its progress (``batch_export_build``), the batch's page polls
the exports panel and offers the file once ready; each download is recorded in the audit
trail as the streamed CSV's is (``batches.batch_results_exported``). The files are personal
data: a beat task deletes them ``VIGIE_EXPORT_RETENTION_HOURS`` after they were written
(``batch_exports_expire``), the rows stay, the page says the file expired.
"""

import logging
import tempfile
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from admissions.infra import exports
from admissions.models import User
from verifications import results, selectors
from verifications.enqueue import batch_export_enqueue
from verifications.models import Batch, BatchExport


logger = logging.getLogger(__name__)

# Rows written between two progress updates of the export's row.
PROGRESS_EVERY = 1000
UNDER_WAY = (BatchExport.State.PENDING, BatchExport.State.RUNNING)
EXPORT_STALE = timedelta(minutes=30)


@transaction.atomic
def batch_export_request(
    *, batch: Batch, acting_user: User, language: str, file_format: str = "xlsx"
) -> BatchExport:
    """Ask for the batch's results file, written by a worker; an export of the batch in that
    language already under way is the one returned. Nothing leaves Vigie yet: the download is
    what is audited (``batch_export_downloaded``)."""
    if acting_user.institution_id != batch.institution_id:
        raise ValidationError(_("Ce lot n'est pas de votre établissement."))
    under_way = BatchExport.objects.filter(
        batch=batch, language=language, file_format=file_format, state__in=UNDER_WAY
    ).first()
    if under_way is not None:
        return under_way
    export = BatchExport.objects.create(
        institution_id=batch.institution_id,
        batch=batch,
        language=language,
        file_format=file_format,
        total=selectors.batch_current_requests(batch).count(),
        requested_by=acting_user,
    )
    export_id = export.pk

    def send() -> None:
        try:
            batch_export_enqueue(export_id)
        except Exception:
            logger.warning("broker unavailable: batch export %s not sent", export_id)
            BatchExport.objects.filter(pk=export_id).update(
                state=BatchExport.State.FAILED, finished_at=timezone.now()
            )

    transaction.on_commit(send)
    return export


def _counted(export_id: int, rows):
    """The rows, the export's progress written every ``PROGRESS_EVERY``."""
    n = 0
    for n, row in enumerate(rows, start=1):
        yield row
        if n % PROGRESS_EVERY == 0:
            BatchExport.objects.filter(pk=export_id).update(done=n)
    BatchExport.objects.filter(pk=export_id).update(done=n, total=n)


def batch_export_build(export_id: int) -> None:
    """Write an export (the worker's task): the batch's current requests, as the person who
    asked sees them, in their language, to a temporary file, then to the storage. A failure
    leaves the export "failed"."""
    started = BatchExport.objects.filter(pk=export_id, state=BatchExport.State.PENDING).update(
        state=BatchExport.State.RUNNING
    )
    if not started:
        return  # written already, or being written by another worker
    export = BatchExport.objects.select_related("batch", "requested_by").get(pk=export_id)
    user = export.requested_by
    try:
        with translation.override(export.language), tempfile.TemporaryFile() as out:
            requests = selectors.batch_result_requests(user=user, batch=export.batch)
            rows = results.result_rows(user, requests.iterator(2000))
            exports.xlsx_write(
                out,
                results.result_headers(),
                _counted(export_id, rows),
                sheet_name=_("Résultats"),
            )
            out.seek(0)
            name = f"lot-{export.batch_id}-resultats-{export.language}-{export_id}.xlsx"
            export.file.save(name, File(out), save=False)
        BatchExport.objects.filter(pk=export_id).update(
            file=export.file.name, state=BatchExport.State.DONE, finished_at=timezone.now()
        )
    except Exception:
        logger.exception("batch export %s failed", export_id)
        BatchExport.objects.filter(pk=export_id).update(
            state=BatchExport.State.FAILED, finished_at=timezone.now()
        )
        raise


def batch_export_downloaded(*, export: BatchExport, acting_user: User, ip: str | None) -> None:
    """A person downloads the file: personal data leaving Vigie, recorded as the streamed
    results are (``batches.batch_results_exported``)."""
    from verifications.services.batches import batch_results_exported

    batch_results_exported(
        batch=export.batch,
        acting_user=acting_user,
        file_format=export.file_format,
        rows=export.total,
        ip=ip,
    )


def batch_exports_fail_stale(now: datetime | None = None) -> int:
    """Exports whose worker was lost: still under way ``EXPORT_STALE`` after they were asked
    (a 40,000-row file takes about 20 s) are marked failed, so that the page says so and the
    next request writes a new one instead of returning this one."""
    now = now or timezone.now()
    return BatchExport.objects.filter(
        state__in=UNDER_WAY, created_at__lt=now - EXPORT_STALE
    ).update(state=BatchExport.State.FAILED, finished_at=now)


def batch_exports_expire(now: datetime | None = None) -> int:
    """Delete the files written more than ``VIGIE_EXPORT_RETENTION_HOURS`` ago (the beat task
    ``verifications-exports-expire``); their rows stay, marked ``expired_at``. Returns how many
    files were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.VIGIE_EXPORT_RETENTION_HOURS)
    expired = 0
    for export in BatchExport.objects.filter(
        state=BatchExport.State.DONE, expired_at__isnull=True, finished_at__lt=cutoff
    ).order_by("pk"):
        if export.file:
            export.file.delete(save=False)
        BatchExport.objects.filter(pk=export.pk).update(file="", expired_at=now)
        expired += 1
    if expired:
        logger.info("batch exports: %s files past their retention deleted", expired)
    return expired
