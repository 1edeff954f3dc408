from django import forms
from django.utils.translation import gettext_lazy as _

from verifications.services.decisions import OVERRIDABLE


class ManualCheckForm(forms.Form):
    justification = forms.CharField(
        label=_("Justification"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Le document consulté et ce qu'il établit, ex. « certificat de scolarité "
            "2025-2026 signé du proviseur, reçu le 12/10 »."
        ),
        max_length=2000,
    )


class OverrideForm(forms.Form):
    verdict = forms.ChoiceField(label=_("Nouveau verdict"), choices=())
    justification = forms.CharField(
        label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from admissions.enums import Verdict

        self.fields["verdict"].choices = [(v.value, v.label) for v in Verdict if v in OVERRIDABLE]
