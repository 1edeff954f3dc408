from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Identifiant"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        "invalid_login": _(
            "Identifiant ou mot de passe incorrect. Les majuscules comptent dans le mot de passe."
        ),
        "inactive": _(
            "Ce compte est désactivé. Adressez-vous à l'administrateur de votre établissement."
        ),
    }
