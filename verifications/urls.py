from django.urls import path

from verifications.views import analytics, batches, certificates, claims, dashboard, retention


urlpatterns = [
    path("", dashboard.dashboard, name="home"),
    path("candidats/<id:applicant_id>/", claims.applicant_detail, name="applicant_detail"),
    path(
        "candidats/<id:applicant_id>/verifier/",
        claims.applicant_verify_all,
        name="applicant_verify_all",
    ),
    path(
        "candidats/<id:applicant_id>/historique/",
        claims.applicant_timeline,
        name="applicant_timeline",
    ),
    path("declarations/<id:claim_id>/carte/", claims.claim_card, name="claim_card"),
    path("declarations/<id:claim_id>/verifier/", claims.claim_verify, name="claim_verify"),
    path("declarations/<id:claim_id>/manuelle/", claims.claim_manual, name="claim_manual"),
    path("declarations/<id:claim_id>/verdict/", claims.claim_override, name="claim_override"),
    path("declarations/<id:claim_id>/variantes/", claims.claim_variants, name="claim_variants"),
    path(
        "declarations/<id:claim_id>/variantes/<id:request_id>/corriger/",
        claims.claim_variant_correct,
        name="claim_variant_correct",
    ),
    # How the verifications go (supervisors and institution admins)
    path("analyses/", analytics.analytics_page, name="analytics"),
    path("analyses/<str:figure>.csv", analytics.analytics_export, name="analytics_export"),
    # Verification certificates (docs/CERTIFICATES.md): the PDF for members, the public check
    # (no login), and the published signing keys.
    path(
        "declarations/<id:claim_id>/certificat.pdf",
        certificates.claim_certificate,
        name="claim_certificate",
    ),
    path("certificats/", certificates.certificate_public, name="certificate_public"),
    path(
        "certificats/<str:number>/<str:code>/",
        certificates.certificate_public_direct,
        name="certificate_public_direct",
    ),
    path(
        ".well-known/vigie-signing-keys.json",
        certificates.signing_keys,
        name="signing_keys",
    ),
    # Retention area: settings, verdict-change notices, GDPR export and erasure.
    path(
        "etablissement/parametres/",
        retention.institution_settings,
        name="institution_settings",
    ),
    path(
        "changements-de-verdict/<id:change_id>/vu/",
        retention.verdict_change_dismiss_view,
        name="verdict_change_dismiss",
    ),
    path(
        "candidats/<id:applicant_id>/export-rgpd/",
        retention.applicant_export_view,
        name="applicant_export",
    ),
    path(
        "candidats/<id:applicant_id>/export-rgpd/page/",
        retention.applicant_export_page,
        name="applicant_export_page",
    ),
    path(
        "candidats/<id:applicant_id>/effacer/",
        retention.applicant_erase_view,
        name="applicant_erase",
    ),
    # Batch verification
    path("lots/", batches.batch_list, name="batch_list"),
    path("lots/nouveau/", batches.batch_new, name="batch_new"),
    path("lots/nouveau/confirmer/", batches.batch_launch, name="batch_launch"),
    path("lots/<id:batch_id>/", batches.batch_detail, name="batch_detail"),
    path("lots/<id:batch_id>/progression/", batches.batch_progress, name="batch_progress"),
    path("lots/<id:batch_id>/verifier-import/", batches.import_verify, name="import_verify"),
    path("lots/<id:batch_id>/pause/", batches.batch_pause, name="batch_pause"),
    path("lots/<id:batch_id>/reprise/", batches.batch_resume, name="batch_resume"),
    path(
        "lots/<id:batch_id>/relancer-echecs/",
        batches.batch_rerun_failed,
        name="batch_rerun_failed",
    ),
    path(
        "lots/<id:batch_id>/variantes/",
        batches.batch_variants,
        name="batch_variants",
    ),
    path(
        "lots/<id:batch_id>/certificats/",
        batches.batch_certificates,
        name="batch_certificates",
    ),
    path(
        "lots/<id:batch_id>/certificats/<id:archive_id>/",
        batches.certificate_archive_download,
        name="certificate_archive_download",
    ),
    path("lots/<id:batch_id>/exports/", batches.batch_exports, name="batch_exports"),
    path(
        "lots/<id:batch_id>/exports/<id:export_id>/",
        batches.batch_export_download,
        name="batch_export_download",
    ),
    path(
        "lots/<id:batch_id>/resultats.<str:file_format>",
        batches.batch_export,
        name="batch_export",
    ),
]
