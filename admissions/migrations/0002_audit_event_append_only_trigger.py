from django.db import migrations

from admissions.infra.append_only import install_append_only_trigger, remove_append_only_trigger


def forwards(apps, schema_editor):
    install_append_only_trigger(schema_editor, apps.get_model("admissions", "AuditEvent")._meta.db_table)


def backwards(apps, schema_editor):
    remove_append_only_trigger(schema_editor, apps.get_model("admissions", "AuditEvent")._meta.db_table)


class Migration(migrations.Migration):
    dependencies = [("admissions", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
