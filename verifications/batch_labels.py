"""A batch's label in the reader's language.

A batch's label is stored as it was written. When Vigie wrote it (« Vérification du
05/12/2026 08:40 », « Import du 05/12/2026 08:40 — rentree.csv »), it was written in the
language of the person who launched it; a reader in another language gets it again in theirs,
from the same date and file name. A label a person typed stays as typed.
"""

from django.conf import settings
from django.utils import translation

from verifications.enums import BatchKind
from verifications.imports.commit import import_batch_label
from verifications.models import Batch
from verifications.services.batches import default_label, import_verification_label


def _vigies_label(batch: Batch, *, as_written: bool = False) -> str:
    """The label Vigie gives this batch in the current language. A verification of an import
    names the import: as it was stored when the verification was launched (``as_written``), or
    as the reader reads it."""
    if batch.kind == BatchKind.IMPORT:
        return import_batch_label(batch.source_filename, batch.created_at)[:200]
    if batch.import_batch_id is not None and batch.import_batch is not None:
        imported = batch.import_batch.label if as_written else batch_label(batch.import_batch)
        return import_verification_label(imported)[:200]
    return default_label(batch.created_at)[:200]


def batch_label(batch: Batch) -> str:
    if batch.created_at is None:
        return batch.label
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            if batch.label == _vigies_label(batch, as_written=True):
                break
    else:
        return batch.label
    return _vigies_label(batch)
