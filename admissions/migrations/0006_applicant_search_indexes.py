"""Indexes for the applicant search on PostgreSQL (the list's ``q``): ``name_key LIKE '%word%'``
and ``UPPER(file_reference) LIKE 'REF%'`` through trigram GIN indexes, ``ine = …`` through a
plain index, so that the three-way OR is a BitmapOr instead of a scan of every applicant
(bench: 244 ms → 2.5 ms for the count at 100,000 applicants). SQLite keeps its scan."""

from django.db import migrations


INDEXES = (
    "CREATE INDEX IF NOT EXISTS applicant_name_key_trgm ON admissions_applicant "
    "USING gin (name_key gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS applicant_reference_trgm ON admissions_applicant "
    "USING gin ((upper(file_reference::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS applicant_ine ON admissions_applicant (ine)",
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in INDEXES:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("applicant_name_key_trgm", "applicant_reference_trgm", "applicant_ine"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("admissions", "0005_append_only_purge_bypass")]
    operations = [migrations.RunPython(forwards, backwards)]
