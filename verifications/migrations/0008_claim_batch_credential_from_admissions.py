# Claim, Batch and InstitutionCredential move from the admissions app to this one (issue 14: the
# verification domain's models in the verification app). A move of the models only: their tables
# keep their names (admissions_claim, admissions_batch, admissions_institutioncredential), their
# indexes and constraints theirs, so the database is not touched (state operations only). The
# foreign keys that point to them are re-pointed here, before admissions 0011 removes the old
# models from its state; their content types follow them, so that back-office permissions do.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import admissions.infra.fields

MOVED = ("claim", "batch", "institutioncredential")


def _move_content_types(apps, schema_editor, source, target):
    """Each moved model's content type (its id, so the permissions granted and the admin's log
    that point to it) changes app. A content type already under ``target`` for the model was
    made by ``migrate``'s post_migrate in between (a partial migrate or an unapply): it holds
    only fresh default permissions, and gives way to the one moved."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        moved = content_types.filter(app_label=source, model=model).first()
        if moved is None:
            continue
        content_types.filter(app_label=target, model=model).delete()
        moved.app_label = target
        moved.save(update_fields=["app_label"])


def content_types_to_verifications(apps, schema_editor):
    _move_content_types(apps, schema_editor, "admissions", "verifications")


def content_types_to_admissions(apps, schema_editor):
    _move_content_types(apps, schema_editor, "verifications", "admissions")


class Migration(migrations.Migration):

    dependencies = [
        ('admissions', '0010_verify_on_record'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('verifications', '0007_verify_on_record'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Batch',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('import', 'Import CSV'), ('verification', 'Vérification groupée')], max_length=16, verbose_name='type')),
                        ('label', models.CharField(max_length=200, verbose_name='libellé')),
                        ('status', models.CharField(choices=[('running', 'En cours'), ('paused', 'En pause'), ('done', 'Terminé'), ('failed', 'Échoué')], default='running', max_length=16, verbose_name='état')),
                        ('total', models.PositiveIntegerField(default=0, verbose_name='total')),
                        ('source_filename', models.CharField(blank=True, max_length=255, verbose_name='fichier')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='créé le')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='terminé le')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('institution', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='batches', to='admissions.institution')),
                    ],
                    options={
                        'verbose_name': 'lot',
                        'verbose_name_plural': 'lots',
                        'db_table': 'admissions_batch',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['institution', '-created_at'], name='batch_recent')],
                    },
                ),
                migrations.CreateModel(
                    name='Claim',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('scolarite', 'Scolarité'), ('cvec', 'CVEC'), ('certification', 'Certification'), ('covoiturage', 'Attestation de covoiturage')], max_length=16, verbose_name='type')),
                        ('declared', models.JSONField(verbose_name='déclaration')),
                        ('verdict', models.CharField(blank=True, choices=[('confirmed', 'Confirmé'), ('contradicted', 'Contredit'), ('mismatch', 'Identité divergente'), ('not_found', 'Inconnu de la source'), ('unavailable', 'Source indisponible'), ('rejected', 'Requête refusée'), ('manual', 'Vérifié manuellement')], max_length=16, verbose_name='verdict')),
                        ('verdict_reason', models.TextField(blank=True, verbose_name='motif')),
                        ('verified_at', models.DateTimeField(blank=True, null=True, verbose_name='vérifié le')),
                        ('valid_until', models.DateTimeField(blank=True, null=True, verbose_name="valable jusqu'au")),
                        ('question_digest', models.CharField(blank=True, editable=False, max_length=64, verbose_name='empreinte de la question')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='créé le')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='modifié le')),
                        ('applicant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='claims', to='admissions.applicant')),
                        ('institution', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='admissions.institution')),
                    ],
                    options={
                        'verbose_name': 'déclaration',
                        'verbose_name_plural': 'déclarations',
                        'db_table': 'admissions_claim',
                        'ordering': ['applicant', 'kind', 'id'],
                        'indexes': [
                            models.Index(fields=['institution', 'verdict'], name='claim_by_verdict'),
                            models.Index(fields=['institution', 'kind', 'verdict'], name='claim_by_kind'),
                            models.Index(fields=['valid_until'], name='claim_by_validity'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='InstitutionCredential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source', models.CharField(choices=[('api_particulier', 'API Particulier (statut élève scolarisé)'), ('cvec', 'API de contrôle de la CVEC'), ('certifinfo', 'Certif Info'), ('covoiturage', 'Registre de preuve de covoiturage')], max_length=32, verbose_name='source')),
                        ('token', admissions.infra.fields.EncryptedTextField(verbose_name='jeton')),
                        ('fingerprint', models.CharField(editable=False, max_length=16, verbose_name='empreinte')),
                        ('expires_at', models.DateTimeField(blank=True, null=True, verbose_name='expire le')),
                        ('expiry_warned_days', models.PositiveSmallIntegerField(blank=True, editable=False, null=True, verbose_name="dernier avertissement d'expiration (jours)")),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='modifié le')),
                        ('institution', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='credentials', to='admissions.institution')),
                    ],
                    options={
                        'verbose_name': "identifiant d'API",
                        'verbose_name_plural': "identifiants d'API",
                        'db_table': 'admissions_institutioncredential',
                        'constraints': [models.UniqueConstraint(fields=('institution', 'source'), name='one_credential_per_source')],
                    },
                ),
                migrations.AlterField(
                    model_name='verificationrequest',
                    name='batch',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='requests', to='verifications.batch'),
                ),
                migrations.AlterField(
                    model_name='verificationrequest',
                    name='claim',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='requests', to='verifications.claim'),
                ),
                migrations.AlterField(
                    model_name='verdictchange',
                    name='claim',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verdict_changes', to='verifications.claim'),
                ),
            ],
        ),
        migrations.RunPython(content_types_to_verifications, content_types_to_admissions),
    ]
