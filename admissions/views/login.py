"""The login page, and logging out."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from admissions.forms import LoginForm


class LoginView(auth_views.LoginView):
    """The login page; a lockout (admissions/login_throttle.py) answers 429 with its message."""

    template_name = "admissions/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "locked_out"):
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    """Django's logout, which then says so on the login page (not that the session expired:
    ``admissions.infra.middleware`` says that only of a page that sent the person to log in)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("Vous êtes déconnecté."))
        return response
