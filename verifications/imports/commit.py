"""Storing an import: all of it in one transaction, or nothing.

The file is read again (nothing from the preview is trusted) and stored as it is validated,
block by block (``parsing.import_blocks``): one transaction creates the ``Batch``, then, per
block of ``COMMIT_BLOCK_LINES`` lines, looks up its references, inserts its applicants
(``bulk_create``) and their claims (``bulk_insert``: one ``COPY`` on PostgreSQL), and appends
to the institution's audit chain one ``CREATED`` event per applicant (``audit_record_many``);
an ``IMPORTED`` event for the batch ends it. Memory holds one block, whatever the file's size.
A line found invalid anywhere in the file (or a reference the institution has) stops the
writing, the rest of the file is still read for the report, and the transaction is rolled
back: nothing stays. The unique constraint on (institution, reference) is the last word if
someone else created the same reference meanwhile.
"""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from admissions.audit import AuditEntry, audit_record_many
from admissions.enums import AuditAction
from admissions.infra.bulk import bulk_insert
from admissions.models import Applicant, Institution, User
from admissions.verify_on_record import claims_verify_on_commit
from verifications.claims import question_digest, question_identity
from verifications.enums import BatchKind, BatchStatus
from verifications.imports.parsing import Source, existing_references, import_blocks
from verifications.imports.report import ImportRefused, ImportReport, ImportRow
from verifications.imports.staging import clean_filename, import_discard, import_load
from verifications.models import Batch, Claim


APPLICANT_CHUNK = 1000
CLAIM_CHUNK = 2000
# Lines validated, looked up and stored together.
COMMIT_BLOCK_LINES = 1000
_REFERENCES_SHOWN = 5
_CLAIM_FIELDS = (
    "institution_id",
    "applicant_id",
    "kind",
    "declared",
    "verdict",
    "verdict_reason",
    "question_digest",
    "created_at",
    "updated_at",
)


def _institution_of(user: User) -> Institution:
    institution = user.institution
    if institution is None:
        raise PermissionDenied("this user belongs to no institution")
    return institution


def import_commit(
    *, acting_user: User, report: ImportReport, filename: str, ip: str | None = None
) -> Batch:
    """Store the file of a valid report (``report.source``, read and validated again) as
    applicants of a new import batch, or nothing.

    Raises ``ImportRefused`` when the report has errors, or when the file, read again, has
    some: a reference taken since the report was made (``reference_taken``), or any other
    problem (``invalid``); nothing is written then either.
    """
    institution = _institution_of(acting_user)
    if report.institution_id != institution.pk:
        raise PermissionDenied("import report of another institution")
    if not report.ok:
        raise ImportRefused(
            _("Le fichier comporte des erreurs : rien n'a été importé."),
            code="invalid",
            report=report,
        )
    return _commit(
        acting_user=acting_user,
        institution=institution,
        source=report.source,
        filename=filename,
        ip=ip,
    )


def _commit(
    *,
    acting_user: User,
    institution: Institution,
    source: Source,
    filename: str,
    ip: str | None,
) -> Batch:
    try:
        with transaction.atomic():
            return _store(
                acting_user=acting_user,
                institution=institution,
                source=source,
                filename=clean_filename(filename),
                ip=ip,
            )
    except IntegrityError as exc:
        raise ImportRefused(
            _(
                "Un dossier portant une des références du fichier a été créé pendant l'import : "
                "rien n'a été importé. Déposez le fichier à nouveau pour voir lesquelles."
            ),
            code="reference_taken",
        ) from exc


def _taken(institution: Institution, references: list[str]) -> set[str]:
    # Looked up at call time, so that a test may stand in for it.
    return existing_references(institution, references)


def _store(
    *,
    acting_user: User,
    institution: Institution,
    source: Source,
    filename: str,
    ip: str | None,
) -> Batch:
    now = timezone.now()
    batch = Batch.objects.create(
        institution=institution,
        kind=BatchKind.IMPORT,
        label=import_batch_label(filename, now)[:200],
        status=BatchStatus.DONE,
        total=0,
        source_filename=filename,
        created_by=acting_user,
        finished_at=now,
    )
    report = ImportReport(institution_id=institution.pk, source=source)
    stored = 0
    for rows in import_blocks(
        source,
        institution=institution,
        report=report,
        block_lines=COMMIT_BLOCK_LINES,
        keep_rows=True,
        existing=_taken,
    ):
        # After the first problem, the rest is only read for the report.
        if rows and not report.error_count:
            _store_rows(
                acting_user=acting_user,
                institution=institution,
                batch=batch,
                rows=rows,
                now=now,
                ip=ip,
            )
            stored += len(rows)
    if not report.ok:
        _refuse(report)
    audit_record_many(
        actor=acting_user,
        institution=institution,
        entries=[
            AuditEntry(
                action=AuditAction.IMPORTED,
                object_type="batch",
                object_id=batch.pk,
                details={
                    "filename": filename,
                    "applicants": stored,
                    "claims": report.claim_counts,
                    "encoding": report.encoding,
                },
            )
        ],
        ip=ip,
    )
    batch.total = stored
    batch.save(update_fields=["total"])
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, import_batch_id=batch.pk, ip=ip
    )
    return batch


def _refuse(report: ImportReport) -> None:
    """Raise the refusal of a file found invalid while storing it (the transaction rolls
    back)."""
    if report.taken_count and report.taken_count == report.error_count:
        shown = report.taken_references[:_REFERENCES_SHOWN]
        raise ImportRefused(
            _(
                "Ces références existent déjà dans l'établissement : %(references)s. Rien n'a "
                "été importé."
            )
            % {"references": ", ".join(shown) + ("…" * (report.taken_count > len(shown)))},
            code="reference_taken",
            report=report,
        )
    raise ImportRefused(
        _("Le fichier comporte des erreurs : rien n'a été importé."),
        code="invalid",
        report=report,
    )


def _store_rows(
    *,
    acting_user: User,
    institution: Institution,
    batch: Batch,
    rows: list[ImportRow],
    now,
    ip: str | None,
) -> None:
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                institution_id=institution.pk,
                batch_id=batch.pk,
                created_by_id=acting_user.pk,
                **row.identity,
            )
            for row in rows
        ],
        batch_size=APPLICANT_CHUNK,
    )
    bulk_insert(
        Claim,
        _CLAIM_FIELDS,
        (
            (
                institution.pk,
                applicant.pk,
                kind,
                declared,
                "",
                "",
                question_digest(kind, declared, identity),
                now,
                now,
            )
            for applicant, row in zip(applicants, rows, strict=True)
            # The identity the questions ask about, read once per applicant (no model instance
            # per claim: ``claim_question_digest`` does the same from a ``Claim``).
            for identity in [question_identity(applicant)]
            for kind, declared in row.claims
        ),
        batch_size=CLAIM_CHUNK,
    )
    audit_record_many(
        actor=acting_user,
        institution=institution,
        entries=[
            AuditEntry(
                action=AuditAction.CREATED,
                object_type="applicant",
                object_id=applicant.pk,
                applicant_id=applicant.pk,
                details={"batch": batch.pk, "claims": [kind for kind, _declared in row.claims]},
            )
            for applicant, row in zip(applicants, rows, strict=True)
        ],
        ip=ip,
    )


def import_batch_label(filename: str, when) -> str:
    """The label Vigie gives an import batch, in the current language (batch_labels reads it
    back in the reader's)."""
    return _("Import du %(date)s — %(filename)s") % {
        "date": formats.date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT"),
        "filename": filename,
    }


def import_commit_staged(*, acting_user: User, token: str, ip: str | None = None) -> Batch:
    """Import a staged file: read it from disk, validating it again as it is stored, store it
    whole, then forget it. Raises ``ImportRefused`` (with ``report``) when the file has
    errors, and ``StagedImportNotFound``/``StagedImportExpired`` from ``import_load``."""
    staged = import_load(acting_user=acting_user, token=token)
    batch = _commit(
        acting_user=acting_user,
        institution=_institution_of(acting_user),
        source=staged.path,
        filename=staged.filename,
        ip=ip,
    )
    transaction.on_commit(lambda: import_discard(acting_user=acting_user, token=token))
    return batch
