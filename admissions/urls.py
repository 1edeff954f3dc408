"""The project's URLs. Paths are French, as the interface."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from admissions import audit_views, views, views_imports
from admissions.forms import LoginForm


urlpatterns = [
    path("", include("verifications.urls")),
    # /healthz, /readyz, /metrics (answered early by admissions.ops.middleware.ProbeMiddleware)
    path("", include("admissions.ops.urls")),
    path("candidats/", views.applicant_list, name="applicant_list"),
    path("candidats/nouveau/", views.applicant_create, name="applicant_create"),
    path("candidats/<int:applicant_id>/modifier/", views.applicant_edit, name="applicant_edit"),
    path(
        "candidats/<int:applicant_id>/declarations/<str:kind>/nouvelle/",
        views.claim_add,
        name="claim_add",
    ),
    path("declarations/<int:claim_id>/modifier/", views.claim_edit, name="claim_edit"),
    path("journal/", audit_views.audit_list, name="audit_list"),
    path("journal/export.<str:export_format>", audit_views.audit_export, name="audit_export"),
    path(
        "connexion/",
        views.LoginView.as_view(  # throttled: 429 with its message during a lockout
            template_name="admissions/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    # CSV import
    path("imports/modele.csv", views_imports.import_template, name="import_template"),
    path("imports/nouveau/", views_imports.import_upload, name="import_upload"),
    path("imports/<str:token>/", views_imports.import_preview, name="import_preview"),
    path("imports/<str:token>/importer/", views_imports.import_confirm, name="import_confirm"),
    path("imports/<str:token>/annuler/", views_imports.import_cancel, name="import_cancel"),
    path("back-office/", admin.site.urls),
]

handler403 = "admissions.views.permission_denied"
