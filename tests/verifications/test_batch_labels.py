"""A batch label Vigie wrote reads in the reader's language (issue 15: in English, batch labels
stayed French); a label a person typed stays as typed."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from tests.factories import InstitutionFactory, UserFactory
from verifications.batch_labels import batch_label
from verifications.enums import BatchKind
from verifications.imports.commit import import_batch_label
from verifications.models import Batch
from verifications.services.batches import default_label


pytestmark = pytest.mark.django_db


def batch_of(institution, kind, label, **fields) -> Batch:
    batch = Batch.objects.create(institution=institution, kind=kind, label="", **fields)
    # The label as Vigie wrote it when the batch was made, in French.
    with translation.override("fr"):
        batch.label = label(batch) if callable(label) else label
    batch.save(update_fields=["label"])
    return batch


def test_vigies_labels_are_shown_in_the_readers_language_and_a_persons_as_typed(client):
    institution = InstitutionFactory()
    verification = batch_of(
        institution, BatchKind.VERIFICATION, lambda b: default_label(b.created_at)
    )
    imported = batch_of(
        institution,
        BatchKind.IMPORT,
        lambda b: import_batch_label("rentree.csv", b.created_at),
        source_filename="rentree.csv",
    )
    typed = batch_of(institution, BatchKind.VERIFICATION, "Vérification du jury")
    assert verification.label.startswith("Vérification du ")
    with translation.override("en"):
        assert batch_label(verification).startswith("Verification of ")
        assert batch_label(imported).startswith("Import of ")
        assert batch_label(imported).endswith("— rentree.csv")
        assert batch_label(typed) == "Vérification du jury"
    with translation.override("fr"):
        assert batch_label(verification) == verification.label

    client.force_login(UserFactory(institution=institution))
    client.cookies["django_language"] = "en"
    listing = client.get(reverse("batch_list")).text
    assert "Verification of " in listing
    assert "Import of " in listing
    assert "Vérification du jury" in listing
    assert verification.label not in listing
    detail = client.get(reverse("batch_detail", args=[verification.pk])).text
    assert f"<h1>{batch_label_in_english(verification)}</h1>" in detail


def batch_label_in_english(batch: Batch) -> str:
    with translation.override("en"):
        return batch_label(batch)


def test_an_imports_verification_reads_in_the_readers_language(client):
    """ "Vérification de l'import « Import du … — rentree.csv »": both labels Vigie's, both
    read in English; its import read in English is named in its English label."""
    from verifications.services.batches import import_verification_label

    institution = InstitutionFactory()
    imported = batch_of(
        institution,
        BatchKind.IMPORT,
        lambda b: import_batch_label("rentree.csv", b.created_at),
        source_filename="rentree.csv",
    )
    verification = batch_of(
        institution,
        BatchKind.VERIFICATION,
        lambda b: import_verification_label(imported.label),
        import_batch=imported,
    )
    assert verification.label.startswith("Vérification de l'import « Import du ")
    with translation.override("en"):
        english = batch_label(verification)
    assert english == f"Verification of import “{batch_label_in_english(imported)}”"
    with translation.override("fr"):
        assert batch_label(verification) == verification.label

    client.force_login(UserFactory(institution=institution))
    client.cookies["django_language"] = "en"
    listing = client.get(reverse("batch_list")).text
    assert english.replace("“", "&ldquo;") in listing or english in listing
    assert verification.label not in listing


def test_in_english_a_labels_date_reads_as_the_pages_dates():
    """Day first, 24 hours: "Verification of 05/12/2026 13:23", beside a creation date the
    page writes 05/12/2026 13:23 (it read "12/05/2026 1:23 p.m.", seen on make run)."""
    institution = InstitutionFactory()
    batch = batch_of(institution, BatchKind.VERIFICATION, "")
    moment = dt.datetime(2026, 12, 5, 12, 23, tzinfo=dt.UTC)  # 13:23 in Paris
    Batch.objects.filter(pk=batch.pk).update(created_at=moment)
    batch.refresh_from_db()
    with translation.override("fr"):
        batch.label = default_label(batch.created_at)
    assert batch.label == "Vérification du 05/12/2026 13:23"
    with translation.override("en"):
        assert batch_label(batch) == "Verification of 05/12/2026 13:23"
        assert import_batch_label("x.csv", moment) == "Import of 05/12/2026 13:23 — x.csv"


def test_a_label_from_another_minute_is_left_as_written():
    institution = InstitutionFactory()
    batch = batch_of(
        institution,
        BatchKind.VERIFICATION,
        lambda b: default_label(b.created_at - dt.timedelta(minutes=5)),
    )
    with translation.override("en"):
        assert batch_label(batch) == batch.label


def test_the_new_batch_forms_import_choices_read_in_english(client):
    institution = InstitutionFactory()
    batch_of(
        institution,
        BatchKind.IMPORT,
        lambda b: import_batch_label("rentree.csv", b.created_at),
        source_filename="rentree.csv",
    )
    client.force_login(UserFactory(institution=institution, supervisor=True))
    client.cookies["django_language"] = "en"
    page = client.get(reverse("batch_new")).text
    assert "Import of " in page
    assert "Import du " not in page
