"""The project's URLs. Paths are French, as the interface."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from admissions.forms import LoginForm
from admissions.views import audit, login
from verifications.views import applicants, imports


urlpatterns = [
    path("", include("verifications.urls")),
    # /healthz, /readyz, /metrics (answered early by admissions.ops.middleware.ProbeMiddleware)
    path("", include("admissions.ops.urls")),
    path("candidats/", applicants.applicant_list, name="applicant_list"),
    path("candidats/nouveau/", applicants.applicant_create, name="applicant_create"),
    path("candidats/<id:applicant_id>/modifier/", applicants.applicant_edit, name="applicant_edit"),
    path(
        "candidats/<id:applicant_id>/declarations/<str:kind>/nouvelle/",
        applicants.claim_add,
        name="claim_add",
    ),
    path("declarations/<id:claim_id>/modifier/", applicants.claim_edit, name="claim_edit"),
    path("journal/", audit.audit_list, name="audit_list"),
    path("journal/export.<str:export_format>", audit.audit_export, name="audit_export"),
    path(
        "connexion/",
        login.LoginView.as_view(  # throttled: 429 with its message during a lockout
            template_name="admissions/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("deconnexion/", login.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    # CSV import
    path("imports/modele.csv", imports.import_template, name="import_template"),
    path("imports/nouveau/", imports.import_upload, name="import_upload"),
    path("imports/<str:token>/", imports.import_preview, name="import_preview"),
    path("imports/<str:token>/importer/", imports.import_confirm, name="import_confirm"),
    path("imports/<str:token>/annuler/", imports.import_cancel, name="import_cancel"),
    # Pages link /static/favicon.svg; the back-office's do not, and browsers then ask for this.
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("favicon.svg"), http_method_names=["get"]),
        name="favicon",
    ),
    path("back-office/", admin.site.urls),
    # The integration API (/api/v1/) and its keys (the settings' "Clés d'API").
    path("", include("api.urls")),
    # Webhooks: the institution admin's endpoints (the settings' "Webhooks").
    path("", include("webhooks.urls")),
]

handler403 = "admissions.views.errors.permission_denied"
handler404 = "admissions.views.errors.page_not_found"
