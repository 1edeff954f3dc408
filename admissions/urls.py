from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from admissions import views
from admissions.forms import LoginForm


urlpatterns = [
    path("", views.home, name="home"),
    path(
        "connexion/",
        auth_views.LoginView.as_view(
            template_name="admissions/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("back-office/", admin.site.urls),
]

handler403 = "admissions.views.permission_denied"
