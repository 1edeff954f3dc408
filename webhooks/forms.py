from django import forms
from django.utils.translation import gettext_lazy as _

from admissions.infra.text_input import PlainTextForm
from webhooks.enums import EventType
from webhooks.services.endpoints import webhook_url_check


class WebhookEndpointForm(PlainTextForm, forms.Form):
    url = forms.CharField(
        label=_("Adresse de réception"),
        max_length=500,
        help_text=_("En https://. Vigie y envoie chaque événement par une requête POST signée."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("Le système qui reçoit, par exemple « SI scolarité »."),
    )
    events = forms.MultipleChoiceField(
        label=_("Événements"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"].strip()
        webhook_url_check(url)
        return url
