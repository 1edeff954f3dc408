from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.infra.text_input import PlainTextForm
from api.enums import Scope


def default_expiry() -> date:
    return timezone.localdate() + timedelta(days=settings.VIGIE_API_KEY_DEFAULT_DAYS)


class ApiKeyForm(PlainTextForm, forms.Form):
    name = forms.CharField(
        label=_("Nom de la clé"),
        max_length=100,
        help_text=_("Le système qui l'utilise, par exemple « SI scolarité »."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Droits"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_on = forms.DateField(
        label=_("Expire le"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Au plus tard dans trois ans."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"expires_on": default_expiry(), "scopes": [Scope.READ]})
        super().__init__(*args, **kwargs)

    def clean_expires_on(self) -> date:
        value: date = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if value <= today:
            raise ValidationError(_("La date d'expiration doit être dans le futur."))
        if value > today + timedelta(days=3 * 366):
            raise ValidationError(_("Une clé expire au plus tard dans trois ans."))
        return value
