"""The append-only trigger learns the retention purge's bypass (admissions/infra/append_only.py):
with `vigie.allow_purge` on for the transaction, DELETE passes, and an UPDATE that only blanks
the table's purgeable columns (none for audit events). Everything else is still refused."""

from django.db import migrations

from admissions.infra.append_only import reinstall_append_only_trigger


def forwards(apps, schema_editor):
    table = apps.get_model("admissions", "AuditEvent")._meta.db_table
    reinstall_append_only_trigger(schema_editor, table)


def backwards(apps, schema_editor):
    pass  # the new function only widens the purge's bypass; the trigger stays


class Migration(migrations.Migration):
    dependencies = [("admissions", "0004_credential_expiry_warning")]
    operations = [migrations.RunPython(forwards, backwards)]
