# Claim, Batch and InstitutionCredential now belong to the verifications app (its migration 0008,
# which re-points the foreign keys of its own models and moves the content types). Here, the
# applicant's import batch is re-pointed and the three models leave this app's state. Their
# tables stay as they are: no database operation.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('admissions', '0010_verify_on_record'),
        ('verifications', '0008_claim_batch_credential_from_admissions'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='applicant',
                    name='batch',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='applicants', to='verifications.batch', verbose_name="lot d'import"),
                ),
                migrations.DeleteModel(name='Claim'),
                migrations.DeleteModel(name='Batch'),
                migrations.DeleteModel(name='InstitutionCredential'),
            ],
        ),
    ]
