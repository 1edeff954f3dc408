"""Storing a validated import: all of it in one transaction, or nothing.

One transaction creates the ``Batch``, inserts the applicants and their claims with
``bulk_create`` in chunks, and appends to the institution's audit chain one ``CREATED`` event
per applicant (for its timeline) and one ``IMPORTED`` event for the batch, in one bulk write
(``audit_record_many``). Nothing is validated row by row in the database: ``parse_import``
already did it with the forms' rules; the unique constraint on (institution, reference) is the
last word if someone else created the same reference meanwhile.
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
from verifications.claims import claim_question_digest
from verifications.enums import BatchKind, BatchStatus
from verifications.imports.parsing import existing_references, parse_import
from verifications.imports.report import ImportRefused, ImportReport
from verifications.imports.staging import clean_filename, import_discard, import_load
from verifications.models import Batch, Claim


APPLICANT_CHUNK = 1000
CLAIM_CHUNK = 2000
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
    """Store every row of a valid report as applicants of a new import batch, or nothing.

    Raises ``ImportRefused`` when the report has errors, or when a reference of the file was
    taken since the report was made (nothing is written then either).
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
    try:
        with transaction.atomic():
            return _store(
                acting_user=acting_user,
                institution=institution,
                report=report,
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


def _store(
    *,
    acting_user: User,
    institution: Institution,
    report: ImportReport,
    filename: str,
    ip: str | None,
) -> Batch:
    references = [row.identity["file_reference"] for row in report.rows]
    taken = sorted(existing_references(institution, references))
    if taken:
        raise ImportRefused(
            _(
                "Ces références existent déjà dans l'établissement : %(references)s. Rien n'a "
                "été importé."
            )
            % {
                "references": ", ".join(taken[:_REFERENCES_SHOWN])
                + ("…" * (len(taken) > _REFERENCES_SHOWN))
            },
            code="reference_taken",
        )
    now = timezone.now()
    batch = Batch.objects.create(
        institution=institution,
        kind=BatchKind.IMPORT,
        label=import_batch_label(filename, now)[:200],
        status=BatchStatus.DONE,
        total=len(report.rows),
        source_filename=filename,
        created_by=acting_user,
        finished_at=now,
    )
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                institution_id=institution.pk,
                batch_id=batch.pk,
                created_by_id=acting_user.pk,
                **row.identity,
            )
            for row in report.rows
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
                claim_question_digest(Claim(kind=kind, declared=declared), applicant),
                now,
                now,
            )
            for applicant, row in zip(applicants, report.rows, strict=True)
            for kind, declared in row.claims
        ),
        batch_size=CLAIM_CHUNK,
    )
    entries = [
        AuditEntry(
            action=AuditAction.CREATED,
            object_type="applicant",
            object_id=applicant.pk,
            applicant_id=applicant.pk,
            details={"batch": batch.pk, "claims": [kind for kind, _declared in row.claims]},
        )
        for applicant, row in zip(applicants, report.rows, strict=True)
    ]
    entries.append(
        AuditEntry(
            action=AuditAction.IMPORTED,
            object_type="batch",
            object_id=batch.pk,
            details={
                "filename": filename,
                "applicants": len(applicants),
                "claims": report.claim_counts,
                "encoding": report.encoding,
            },
        )
    )
    audit_record_many(actor=acting_user, institution=institution, entries=entries, ip=ip)
    claims_verify_on_commit(
        institution=institution, acting_user=acting_user, import_batch_id=batch.pk, ip=ip
    )
    return batch


def import_batch_label(filename: str, when) -> str:
    """The label Vigie gives an import batch, in the current language (batch_labels reads it
    back in the reader's)."""
    return _("Import du %(date)s — %(filename)s") % {
        "date": formats.date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT"),
        "filename": filename,
    }


def import_commit_staged(*, acting_user: User, token: str, ip: str | None = None) -> Batch:
    """Import a staged file: load it (``import_load``), validate it again, store it whole,
    then forget it. Raises ``ImportRefused`` (with ``report``) when the file has errors, and
    ``StagedImportNotFound``/``StagedImportExpired`` from ``import_load``."""
    staged = import_load(acting_user=acting_user, token=token)
    report = parse_import(staged.data, institution=_institution_of(acting_user))
    batch = import_commit(acting_user=acting_user, report=report, filename=staged.filename, ip=ip)
    transaction.on_commit(lambda: import_discard(acting_user=acting_user, token=token))
    return batch
