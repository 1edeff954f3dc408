"""Forms of the clerk workspace. Validation is the domain's (identity.clean_identity); forms
only map its errors onto their fields. The claims' forms and the applicant list's filters (on
claims and verdicts) are ``verifications/forms.py``'s."""

from datetime import date
from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from admissions.enums import AuditAction, Sex
from admissions.identity import clean_identity, parse_birth_date
from admissions.infra.text_input import PlainTextForm
from admissions.login_throttle import ThrottledLoginFormMixin
from admissions.selectors import AuditFilters


class LoginForm(PlainTextForm, ThrottledLoginFormMixin, AuthenticationForm):
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


def attach_domain_errors(form: forms.Form, exc: ValidationError, field_map: dict[str, str]) -> None:
    """Put each domain error next to the form field it concerns. A field that already has an
    error (the form's own check: required, too long) keeps that one alone: the domain, which
    did not receive its value, would only repeat it."""
    already = set(form.errors)
    for key, errors in exc.error_dict.items():
        field = field_map.get(key, key)
        if field in form.fields and field in already:
            continue
        form.add_error(field if field in form.fields else None, errors)


class BirthDateField(forms.DateField):
    """A birth date read by the domain's ``parse_birth_date``: the same formats and the same
    messages as the import (an impossible day is named as such, not as a format error)."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        return parse_birth_date(value)


class ApplicantForm(PlainTextForm, forms.Form):
    file_reference = forms.CharField(label=_("Référence du dossier"), max_length=64)
    birth_name = forms.CharField(label=_("Nom de naissance"), max_length=100)
    usage_name = forms.CharField(label=_("Nom d'usage"), max_length=100, required=False)
    first_name_1 = forms.CharField(label=_("Premier prénom"), max_length=60)
    first_name_2 = forms.CharField(label=_("Deuxième prénom"), max_length=60, required=False)
    first_name_3 = forms.CharField(label=_("Troisième prénom"), max_length=60, required=False)
    sex = forms.ChoiceField(
        label=_("Sexe à l'état civil"), choices=Sex.choices, widget=forms.RadioSelect
    )
    birth_date = BirthDateField(
        label=_("Date de naissance"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ine = forms.CharField(
        label=_("INE"),
        max_length=20,
        required=False,
        help_text=_("Identifiant national élève : 11 chiffres ou lettres."),
    )
    email = forms.CharField(label=_("Courriel"), max_length=254, required=False)
    phone = forms.CharField(label=_("Téléphone"), max_length=32, required=False)

    FIELD_MAP = {"first_names": "first_name_1"}

    def __init__(self, *args: Any, partial: bool = False, **kwargs: Any) -> None:
        self.partial = partial
        super().__init__(*args, **kwargs)
        for name in ("birth_name", "usage_name", "first_name_1", "first_name_2", "first_name_3"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    @classmethod
    def initial_from(cls, applicant: Any) -> dict[str, Any]:
        names = [*applicant.first_names, "", "", ""]
        return {
            "file_reference": applicant.file_reference,
            "birth_name": applicant.birth_name,
            "usage_name": applicant.usage_name,
            "first_name_1": names[0],
            "first_name_2": names[1],
            "first_name_3": names[2],
            "sex": applicant.sex,
            "birth_date": applicant.birth_date,
            "ine": applicant.ine,
            "email": applicant.email,
            "phone": applicant.phone,
        }

    def identity(self) -> dict[str, Any]:
        """The fields as the domain names them (given names as one ordered list)."""
        data = dict(self.cleaned_data)
        data["first_names"] = [
            data.pop(f"first_name_{n}") for n in (1, 2, 3) if data.get(f"first_name_{n}")
        ]
        for n in (1, 2, 3):
            data.pop(f"first_name_{n}", None)
        return data

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # The domain's rules on every field that passed the form's own checks, so that all
        # errors show at once (a wrong INE is flagged even when the birth name is missing).
        try:
            clean_identity(self.identity(), partial=self.partial)
        except ValidationError as exc:
            attach_domain_errors(self, exc, self.FIELD_MAP)
        return cleaned


# What an audit event's ``object_type`` names, in the clerks' words, for the audit view's
# filter and columns and the exports (admissions/audit_words.py).
AUDIT_OBJECT_TYPES = {
    "applicant": _("Candidat"),
    "claim": _("Déclaration"),
    "claims": _("Plusieurs déclarations"),
    "batch": _("Lot"),
    "user": _("Utilisateur"),
    "institution": _("Établissement"),
    "institutioncredential": _("Jeton d'accès à une source"),
    "auditevent": _("Journal d'audit"),
    "cli_check": _("Vérification en ligne de commande"),
    "evidence": _("Éléments de preuve"),
    "institutionpolicy": _("Paramètres de l'établissement"),
    "freshnesspolicy": _("Revérifications automatiques"),
    "verdictchange": _("Changement de verdict"),
    "verificationrequest": _("Demande de vérification"),
    "source": _("Source"),
    "sourcealert": _("Alerte d'une source"),
    "certificate": _("Certificat de vérification"),
    "certificatearchive": _("Certificats d'un lot"),
    "webhookendpoint": _("Point de réception de webhooks"),
}


AUDIT_DATE_MIN, AUDIT_DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)


class AuditFilterForm(PlainTextForm, forms.Form):
    """Filters of the institution-wide audit view (GET parameters)."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.TypedChoiceField(label=_("Acteur"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(
        label=_("Du"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    date_to = forms.DateField(
        label=_("Au"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    file_reference = forms.CharField(label=_("Référence du dossier"), required=False, max_length=64)
    object_type = forms.ChoiceField(label=_("Type d'objet"), required=False)

    def __init__(self, *args: Any, actors: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["action"]).choices = [
            ("", _("Toutes")),
            *AuditAction.choices,
        ]
        cast(forms.ChoiceField, self.fields["actor"]).choices = [("", _("Tous")), *actors]
        cast(forms.ChoiceField, self.fields["object_type"]).choices = [
            ("", _("Tous")),
            *AUDIT_OBJECT_TYPES.items(),
        ]
        self.fields["file_reference"].widget.attrs["autocomplete"] = "off"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        # A day's bounds in local time are computed from these: 0001-01-01 fell off the calendar
        # (OverflowError, a 500) once converted to UTC.
        for name, day in (("date_from", start), ("date_to", end)):
            if day and not AUDIT_DATE_MIN <= day <= AUDIT_DATE_MAX:
                self.add_error(
                    name,
                    _("Saisissez une date entre le %(min)s et le %(max)s.")
                    % {
                        "min": AUDIT_DATE_MIN.strftime("%d/%m/%Y"),
                        "max": AUDIT_DATE_MAX.strftime("%d/%m/%Y"),
                    },
                )
                start = end = None
        if start and end and start > end:
            self.add_error("date_to", _("La date de fin précède la date de début."))
        return cleaned

    def filters(self) -> AuditFilters:
        """The valid filters as the selector takes them (none when the form is invalid)."""
        if not self.is_bound or not self.is_valid():
            return AuditFilters()
        data = self.cleaned_data
        return AuditFilters(
            action=data.get("action") or "",
            actor_id=data.get("actor"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            file_reference=(data.get("file_reference") or "").strip(),
            object_type=data.get("object_type") or "",
        )
