"""Attempts' trigger: the retention purge may blank `payload` (admissions/infra/append_only.py); any
other UPDATE, and any UPDATE or DELETE outside the purge, is still refused."""

from django.db import migrations

from admissions.infra.append_only import reinstall_append_only_trigger


def forwards(apps, schema_editor):
    table = apps.get_model("verifications", "VerificationAttempt")._meta.db_table
    reinstall_append_only_trigger(schema_editor, table, ("payload",))


def backwards(apps, schema_editor):
    table = apps.get_model("verifications", "VerificationAttempt")._meta.db_table
    reinstall_append_only_trigger(schema_editor, table)


class Migration(migrations.Migration):
    dependencies = [
        ("verifications", "0003_policies_notifications_evidence_hash"),
        ("admissions", "0005_append_only_purge_bypass"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
