from django.db import migrations

from admissions.infra.append_only import install_append_only_trigger, remove_append_only_trigger


def forwards(apps, schema_editor):
    table = apps.get_model("verifications", "VerificationAttempt")._meta.db_table
    install_append_only_trigger(schema_editor, table)


def backwards(apps, schema_editor):
    table = apps.get_model("verifications", "VerificationAttempt")._meta.db_table
    remove_append_only_trigger(schema_editor, table)


class Migration(migrations.Migration):
    dependencies = [("verifications", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
