"""Claim, Batch and InstitutionCredential moved from the admissions app to verifications (issue
14) without touching their tables: a database made before the move keeps its rows, and the
content types (so the permissions granted in the back-office) follow the models, both ways.

On the test database (PostgreSQL when DATABASE_URL is set): migrated back to before the move,
rows written through the models as they were then, migrated forward to now.
"""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from admissions.models import Applicant
from verifications.models import Batch, Claim, InstitutionCredential, VerificationRequest


BEFORE = [("admissions", "0010_verify_on_record"), ("verifications", "0007_verify_on_record")]
MOVED = ("batch", "claim", "institutioncredential")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _content_types() -> dict[str, tuple[str, int]]:
    return {
        ct.model: (ct.app_label, ct.pk)
        for ct in ContentType.objects.filter(model__in=MOVED).order_by("model")
    }


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_rows_and_permissions():
    latest = _latest()
    moved_now = _content_types()
    assert {label for label, _ in moved_now.values()} == {"verifications"}
    ids = {model: pk for model, (_, pk) in moved_now.items()}

    executor = _migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    # Unapplied, the move gives the content types back to admissions, with their ids.
    assert _content_types() == {model: ("admissions", pk) for model, pk in ids.items()}
    with pytest.raises(LookupError):
        old.get_model("verifications", "Claim")

    institution = old.get_model("admissions", "Institution").objects.create(
        name="Lycée Mistral", siret="73282932000074"
    )
    user = old.get_model("admissions", "User").objects.create(
        username="agent", institution=institution
    )
    batch = old.get_model("admissions", "Batch").objects.create(
        institution=institution, kind="import", label="Import de mars", created_by=user
    )
    applicant = old.get_model("admissions", "Applicant").objects.create(
        institution=institution,
        file_reference="F-1",
        birth_name="MARTIN",
        first_names=["EMMA"],
        sex="F",
        birth_date=dt.date(2012, 8, 15),
        batch=batch,
    )
    claim = old.get_model("admissions", "Claim").objects.create(
        institution=institution,
        applicant=applicant,
        kind="covoiturage",
        declared={"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
        verdict="confirmed",
    )
    credential = old.get_model("admissions", "InstitutionCredential").objects.create(
        institution=institution, source="cvec", token="jeton-secret", fingerprint="abcd"
    )
    request = old.get_model("verifications", "VerificationRequest").objects.create(
        institution=institution, claim=claim, source="covoiturage", trigger="batch", batch=batch
    )

    _migrate(latest)

    assert _content_types() == {model: ("verifications", pk) for model, pk in ids.items()}
    assert Permission.objects.filter(
        content_type__app_label="verifications", codename="view_claim"
    ).exists()
    moved_claim = Claim.objects.get(pk=claim.pk)
    assert (moved_claim.kind, moved_claim.verdict, moved_claim.applicant_id) == (
        "covoiturage",
        "confirmed",
        applicant.pk,
    )
    assert Applicant.objects.get(pk=applicant.pk).batch == Batch.objects.get(pk=batch.pk)
    assert InstitutionCredential.objects.get(pk=credential.pk).token == "jeton-secret"
    moved_request = VerificationRequest.objects.get(pk=request.pk)
    assert (moved_request.claim_id, moved_request.batch_id) == (claim.pk, batch.pk)
