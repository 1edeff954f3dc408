from django.urls import path

from verifications import retention_views, views, views_batches


urlpatterns = [
    path("", views.dashboard, name="home"),
    path("candidats/<int:applicant_id>/", views.applicant_detail, name="applicant_detail"),
    path("declarations/<int:claim_id>/carte/", views.claim_card, name="claim_card"),
    path("declarations/<int:claim_id>/verifier/", views.claim_verify, name="claim_verify"),
    path("declarations/<int:claim_id>/manuelle/", views.claim_manual, name="claim_manual"),
    path("declarations/<int:claim_id>/verdict/", views.claim_override, name="claim_override"),
    path("declarations/<int:claim_id>/variantes/", views.claim_variants, name="claim_variants"),
    path(
        "declarations/<int:claim_id>/variantes/<int:request_id>/corriger/",
        views.claim_variant_correct,
        name="claim_variant_correct",
    ),
    # Retention area: settings, verdict-change notices, GDPR export and erasure.
    path(
        "etablissement/parametres/",
        retention_views.institution_settings,
        name="institution_settings",
    ),
    path(
        "changements-de-verdict/<int:change_id>/vu/",
        retention_views.verdict_change_dismiss_view,
        name="verdict_change_dismiss",
    ),
    path(
        "candidats/<int:applicant_id>/export-rgpd/",
        retention_views.applicant_export_view,
        name="applicant_export",
    ),
    path(
        "candidats/<int:applicant_id>/effacer/",
        retention_views.applicant_erase_view,
        name="applicant_erase",
    ),
    # Batch verification
    path("lots/", views_batches.batch_list, name="batch_list"),
    path("lots/nouveau/", views_batches.batch_new, name="batch_new"),
    path("lots/nouveau/confirmer/", views_batches.batch_launch, name="batch_launch"),
    path("lots/<int:batch_id>/", views_batches.batch_detail, name="batch_detail"),
    path("lots/<int:batch_id>/progression/", views_batches.batch_progress, name="batch_progress"),
    path("lots/<int:batch_id>/pause/", views_batches.batch_pause, name="batch_pause"),
    path("lots/<int:batch_id>/reprise/", views_batches.batch_resume, name="batch_resume"),
    path(
        "lots/<int:batch_id>/relancer-echecs/",
        views_batches.batch_rerun_failed,
        name="batch_rerun_failed",
    ),
    path(
        "lots/<int:batch_id>/variantes/",
        views_batches.batch_variants,
        name="batch_variants",
    ),
    path(
        "lots/<int:batch_id>/resultats.<str:file_format>",
        views_batches.batch_export,
        name="batch_export",
    ),
]
