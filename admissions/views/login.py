"""The login page (logout is Django's own view)."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponse

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
