import re
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from admissions.forms import attach_domain_errors
from admissions.infra.integers import IdField
from admissions.infra.text_input import PlainTextForm
from verifications import freshness
from verifications.batch_labels import batch_label
from verifications.claims import clean_declared
from verifications.enums import ClaimKind, Verdict
from verifications.services.decisions import OVERRIDABLE


class ManualCheckForm(PlainTextForm, forms.Form):
    document = forms.CharField(
        label=_("Pièce consultée"),
        max_length=200,
        help_text=_("Ex. « certificat de scolarité 2025-2026 signé du proviseur »."),
    )
    justification = forms.CharField(
        label=_("Justification"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Ce que la pièce établit et comment vous l'avez reçue, ex. « original présenté au "
            "guichet le 12/10, cachet de l'établissement »."
        ),
        max_length=2000,
    )


class OverrideForm(PlainTextForm, forms.Form):
    verdict = forms.ChoiceField(label=_("Nouveau verdict"), choices=())
    justification = forms.CharField(
        label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    confirm = forms.BooleanField(
        label=_(
            "Je confirme remplacer le verdict : ma décision sera affichée à mon nom au-dessus de "
            "la réponse de la source, et tracée dans le journal."
        ),
        error_messages={"required": _("Cochez la case pour confirmer votre décision.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from verifications.enums import Verdict

        # No verdict chosen in advance: a decision is a choice.
        cast(forms.ChoiceField, self.fields["verdict"]).choices = [
            ("", _("— Choisissez un verdict —")),
            *((v.value, v.label) for v in Verdict if v in OVERRIDABLE),
        ]


class VariantTryForm(PlainTextForm, forms.Form):
    """The variants of an identity a clerk chooses to try after a "not found", and why."""

    variants = forms.MultipleChoiceField(
        label=_("Variantes à essayer"),
        widget=forms.CheckboxSelectMultiple,
        choices=(),
        error_messages={"required": _("Cochez au moins une variante à essayer.")},
    )
    purpose = forms.CharField(
        label=_("Pourquoi essayer ces variantes"),
        max_length=255,
        min_length=10,
        help_text=_(
            "Chaque essai envoie les données du candidat à la source : dites pourquoi, ex. "
            "« prénom d'usage indiqué sur le dossier papier »."
        ),
    )

    def __init__(self, *args, proposals=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["variants"]).choices = [
            (v.key, v.key) for v in proposals
        ]


# --- Institution settings and GDPR (retention area) -------------------------------------------


_MONTH_DAY_RE = re.compile(r"(?P<day>[0-9]{1,2}) *[/-] *(?P<month>[0-9]{1,2})")


class MonthDayField(forms.CharField):
    """A day of the year typed "JJ/MM", stored "MM-DD"; blank allowed when not required."""

    default_error_messages = {
        "invalid": _("Saisissez un jour de l'année au format JJ/MM, par exemple 08/09."),
        "impossible": _("Le %(value)s n'existe pas : vérifiez le jour et le mois."),
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 5)
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "JJ/MM", "size": 5}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, str) and len(value) == 5 and value[2] == "-":
            month, day = value.split("-")
            return f"{day}/{month}"
        return value

    def clean(self, value):
        value = super().clean(value).strip()
        if not value:
            return ""
        shape = _MONTH_DAY_RE.fullmatch(value)
        if shape is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        day, month = int(shape["day"]), int(shape["month"])
        stored = f"{month:02d}-{day:02d}"
        try:
            freshness.parse_month_day(stored)
        except ValueError:
            # Written right, but no such day (31/02): say so, not that the format is wrong.
            raise forms.ValidationError(
                self.error_messages["impossible"],
                code="impossible",
                params={"value": f"{day:02d}/{month:02d}"},
            ) from None
        return stored


class InstitutionPolicyForm(PlainTextForm, forms.Form):
    verify_on_record = forms.BooleanField(
        label=_("Vérifier les déclarations dès leur enregistrement"),
        required=False,
        help_text=_(
            "Chaque déclaration saisie, modifiée ou importée est aussitôt vérifiée auprès de sa "
            "source, sans attendre qu'un agent clique sur « Vérifier »."
        ),
    )
    night_start = forms.TimeField(
        label=_("Début de la fenêtre de nuit"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    night_end = forms.TimeField(
        label=_("Fin de la fenêtre de nuit"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("Les re-vérifications planifiées ne partent qu'entre ces deux heures."),
    )
    timezone = forms.ChoiceField(
        label=_("Fuseau horaire"), choices=[(tz, tz) for tz in freshness.TIMEZONES]
    )
    scheduled_share = forms.IntegerField(
        label=_("Part du débit de chaque source (%)"),
        min_value=1,
        max_value=100,
        help_text=_("Le reste du débit reste disponible pour les vérifications des agents."),
    )
    evidence_retention_months = forms.IntegerField(
        label=_("Conservation des preuves brutes (mois)"),
        min_value=freshness.MIN_EVIDENCE_RETENTION_MONTHS,
        max_value=freshness.MAX_RETENTION_MONTHS,
        help_text=_(
            "Après ce délai, les preuves sont effacées ; le verdict, son motif, les écarts et "
            "l'empreinte des preuves sont conservés."
        ),
    )
    audit_retention_months = forms.IntegerField(
        label=_("Conservation du journal d'audit (mois)"),
        min_value=freshness.MIN_AUDIT_RETENTION_MONTHS,
        max_value=freshness.MAX_RETENTION_MONTHS,
        help_text=_("36 mois au moins : la traçabilité demandée par API Particulier."),
        error_messages={
            "min_value": _(
                "Le journal d'audit doit être conservé %(limit_value)s mois au moins "
                "(traçabilité demandée par API Particulier)."
            )
        },
    )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("night_start") and cleaned.get("night_start") == cleaned.get("night_end"):
            self.add_error("night_end", _("La fenêtre de nuit doit durer au moins une minute."))
        return cleaned


class FreshnessPolicyForm(PlainTextForm, forms.Form):
    enabled = forms.BooleanField(label=_("Re-vérifier automatiquement"), required=False)
    interval_days = forms.IntegerField(
        label=_("Tous les (jours)"), min_value=1, max_value=365, required=False
    )
    active_from = MonthDayField(label=_("Du (JJ/MM)"))
    active_until = MonthDayField(label=_("Au (JJ/MM)"))
    recheck_on = MonthDayField(label=_("Et chaque année le (JJ/MM)"))
    recheck_on_campaign_change = forms.BooleanField(
        label=_("Au changement de campagne (1er septembre)"), required=False
    )

    def __init__(self, *args, kind=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    @property
    def error_group(self) -> str:
        """The claim kind's name in the page's error summary (each kind has these fields)."""
        from verifications.enums import ClaimKind

        return str(ClaimKind(self.kind).label) if self.kind else ""

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        # A rule between fields speaks only of fields that are valid on their own: a wrong
        # date already has its error, and is not "missing" as well.
        dates_valid = not {"active_from", "active_until"} & set(self.errors)
        if dates_valid and bool(cleaned.get("active_from")) != bool(cleaned.get("active_until")):
            self.add_error("active_until", _("Donnez les deux dates de la période, ou aucune."))
        when_valid = not {"interval_days", "recheck_on"} & set(self.errors)
        if (
            when_valid
            and cleaned.get("enabled")
            and not (
                cleaned.get("interval_days")
                or cleaned.get("recheck_on")
                or cleaned.get("recheck_on_campaign_change")
            )
        ):
            self.add_error(
                "interval_days",
                _(
                    "Indiquez quand re-vérifier : un intervalle, une date ou le changement "
                    "de campagne."
                ),
            )
        return cleaned


class ErasureForm(PlainTextForm, forms.Form):
    justification = forms.CharField(
        label=_("Motif de l'effacement"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Par exemple : demande du candidat reçue le 12/10, dossier clos."),
    )
    confirm = forms.BooleanField(
        label=_("Je confirme l'effacement définitif des données de ce candidat."), required=True
    )


class BatchCohortForm(PlainTextForm, forms.Form):
    """The cohort of a batch verification: the applicant list's filters (GET or POST), the
    claim kinds to check, and a label."""

    batch = forms.TypedChoiceField(
        label=_("Lot d'import"), required=False, coerce=int, empty_value=None
    )
    q = forms.CharField(label=_("Rechercher"), required=False, max_length=100)
    verdict = forms.ChoiceField(label=_("Verdict actuel"), required=False)
    needs_me = forms.BooleanField(label=_("Seulement ce qui est à traiter"), required=False)
    kinds = forms.MultipleChoiceField(
        label=_("Déclarations à vérifier"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Aucune case cochée : tous les types."),
    )
    label = forms.CharField(
        label=_("Libellé du lot"),
        required=False,
        max_length=200,
        help_text=_("Facultatif : la date du lancement sinon."),
    )

    FILTERS = ("batch", "q", "verdict", "needs_me", "kinds")

    def __init__(self, *args, import_batches=(), **kwargs) -> None:
        # One way to choose the claim kinds: the checkboxes. The applicant list's one-kind
        # filter ("kind", carried by "Vérifier cette sélection") arrives as that box checked.
        data = args[0] if args else kwargs.get("data")
        if isinstance(data, QueryDict) and data.get("kind") and not data.getlist("kinds"):
            data = data.copy()
            data.setlist("kinds", [str(data["kind"])])
            if args:
                args = (data, *args[1:])
            else:
                kwargs["data"] = data
        super().__init__(*args, **kwargs)
        from verifications.enums import ClaimKind, Verdict

        cast(forms.ChoiceField, self.fields["batch"]).choices = [
            ("", _("Tous les candidats")),
            *((b.pk, batch_label(b)) for b in import_batches),
        ]
        cast(forms.ChoiceField, self.fields["verdict"]).choices = [
            ("", _("Tous")),
            ("unchecked", _("Non vérifié")),
            *Verdict.choices,
        ]
        cast(forms.ChoiceField, self.fields["kinds"]).choices = ClaimKind.choices

    def cohort(self) -> dict:
        """The arguments of ``selectors.cohort_claims``."""
        data = self.cleaned_data
        return {
            "batch_id": data.get("batch"),
            "q": data.get("q", ""),
            "verdict": data.get("verdict", ""),
            "needs_me": data.get("needs_me", False),
            "kinds": data.get("kinds") or [],
        }


class CertificateCheckForm(PlainTextForm, forms.Form):
    """The public page's question: a certificate's number and its check code, as printed."""

    number = forms.CharField(
        label=_("Numéro du certificat"),
        max_length=32,
        help_text=_("Par exemple VC-7K3Q-9XDM, en haut du certificat."),
    )
    code = forms.CharField(
        label=_("Code de contrôle"),
        max_length=16,
        help_text=_("Les 8 caractères imprimés à côté du numéro."),
    )


class ClaimForm(PlainTextForm, forms.Form):
    """One claim of a given kind; its fields depend on the kind."""

    FIELDS: dict[str, list[tuple[str, forms.Field]]] = {}

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(*args, **kwargs)
        for name, field in claim_fields(kind):
            self.fields[name] = field

    def declared(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}

    @property
    def error_group(self) -> str:
        """The section's name in the page's error summary (several sections share labels)."""
        return str(ClaimKind(self.kind).label)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # The domain's rules on every field that passed the form's own checks, so that a wrong
        # UAI is flagged even when the school year is missing.
        try:
            self.cleaned_declared = clean_declared(self.kind, self.declared())
        except ValidationError as exc:
            attach_domain_errors(self, exc, {})
        return cleaned


def claim_fields(kind: str) -> list[tuple[str, forms.Field]]:
    match kind:
        case ClaimKind.SCOLARITE:
            return [
                (
                    "uai",
                    forms.CharField(
                        label=_("Code UAI de l'établissement"),
                        max_length=12,
                        help_text=_("7 chiffres et une lettre de contrôle, ex. 0132733A."),
                    ),
                ),
                (
                    "school_year",
                    forms.CharField(
                        label=_("Année scolaire"),
                        max_length=9,
                        help_text=_("AAAA ou AAAA-AAAA, ex. 2025-2026."),
                    ),
                ),
            ]
        case ClaimKind.CVEC:
            return [
                ("code", forms.CharField(label=_("Numéro d'attestation CVEC"), max_length=60)),
                (
                    "campaign",
                    forms.CharField(
                        label=_("Campagne"),
                        max_length=9,
                        required=False,
                        help_text=_("Première année de la campagne, ex. 2025."),
                    ),
                ),
            ]
        case ClaimKind.CERTIFICATION:
            return [
                (
                    "code",
                    forms.CharField(
                        label=_("Code de la certification"),
                        max_length=20,
                        help_text=_("RNCP12345, RS1234 ou code Certif Info."),
                    ),
                ),
                (
                    "min_level",
                    forms.IntegerField(
                        label=_("Niveau européen minimum exigé"),
                        min_value=1,
                        max_value=8,
                        required=False,
                    ),
                ),
            ]
        case ClaimKind.COVOITURAGE:
            return [
                ("uuid", forms.CharField(label=_("Identifiant de l'attestation"), max_length=40)),
            ]
    raise ValueError(kind)


class ApplicantFilterForm(PlainTextForm, forms.Form):
    """Search, filters and sort of the applicant list (GET parameters)."""

    SORTS = {
        "nom": ("birth_name", "id"),
        "-nom": ("-birth_name", "-id"),
        "reference": ("file_reference",),
        "-reference": ("-file_reference",),
        "recent": ("-created_at", "-id"),
        "ancien": ("created_at", "id"),
    }

    q = forms.CharField(label=_("Rechercher"), required=False, max_length=100)
    verdict = forms.ChoiceField(label=_("Verdict"), required=False)
    kind = forms.ChoiceField(label=_("Type de déclaration"), required=False)
    batch = IdField(label=_("Lot d'import"), required=False, widget=forms.HiddenInput)
    needs_me = forms.BooleanField(label=_("À traiter"), required=False)
    sort = forms.ChoiceField(
        label=_("Trier par"),
        required=False,
        choices=[
            ("nom", _("Nom (A → Z)")),
            ("-nom", _("Nom (Z → A)")),
            ("recent", _("Plus récents")),
            ("ancien", _("Plus anciens")),
            ("reference", _("Référence")),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["verdict"]).choices = [
            ("", _("Tous")),
            ("unchecked", _("Non vérifié")),
            *Verdict.choices,
        ]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", _("Tous")), *ClaimKind.choices]
