"""Audit events in words: one renderer of an event's details, its actor and its object type,
used by the journal page, the applicant's timeline and the audit exports, in the active
language (French, or English when the page or export is made in English).

An event's ``details`` are written by the services (``audit_record``) with stable keys and
raw values (codes, ids, ISO dates), hashed into the chain as they are. They are never shown
raw: ``details_summary`` says what a person needs at a glance (the claim, the verdict reached,
the fields changed, what happened to a batch), ``details_text`` says every detail, one
"label : value" per key, for the exports. Every key the code writes has an entry in
``DETAIL_WORDS`` (``tests/admissions/test_audit_words.py`` reads the code for them).
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, Model
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from admissions.enums import AuditAction, Role, Source
from admissions.forms import AUDIT_OBJECT_TYPES
from admissions.infra.choices import choice_label
from admissions.models import Applicant, AuditEvent, Institution, User


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class ClaimWords:
    """How the trail says the verification domain's values, which the applicant domain does not
    import (docs/DESIGN.md §Where things are): registered by ``VerificationsConfig.ready``
    (``verifications/audit_words.py``), in every process, before any page or export."""

    # Claim kinds and verdicts: value → label.
    kinds: "Mapping[str, StrOrPromise]"
    verdicts: "Mapping[str, StrOrPromise]"
    # A rematch variant's name in words.
    variant_label: Callable[[str], str]
    # A claim kind's declared fields, as its form labels them: name → label.
    claim_field_labels: "Callable[[str], Mapping[str, StrOrPromise]]"
    # Models whose fields a settings change names (the institution's policies).
    setting_models: tuple[type[Model], ...]
    # A verdict's reason in words (code, its values, language), None for a code it does not know.
    reason: Callable[[str, Mapping[str, Any], str], str | None]
    # A configuration alert in words (code, source), empty for a code it does not know.
    alert: Callable[[str, str], str]


_claim_words = ClaimWords(
    kinds={},
    verdicts={},
    variant_label=str,
    claim_field_labels=lambda kind: {},
    setting_models=(),
    reason=lambda code, params, language: None,
    alert=lambda code, source: "",
)


def claim_words_register(words: ClaimWords) -> None:
    global _claim_words
    _claim_words = words


# What a batch event's ``change`` says happened (``verifications/services/batches.py``).
BATCH_CHANGES: dict[str, Promise] = {
    "paused": _("Lot mis en pause"),
    "resumed": _("Lot repris"),
    "rerun_failed": _("Vérifications sans réponse relancées"),
}

# What a webhook endpoint's event's ``change`` says happened (``webhooks/services/``).
WEBHOOK_CHANGES: dict[str, Promise] = {
    "enabled": _("Point de réception réactivé"),
    "disabled": _("Point de réception désactivé après 24 heures d'échecs"),
    "deleted": _("Point de réception supprimé"),
    "delivery_replayed": _("Événement renvoyé"),
}

# Who acted when no person did (``actor_label`` of events without an actor).
SYSTEM_ACTORS: dict[str, Promise] = {
    "system": _("Vigie"),
    "vigie": _("Vigie"),
    "retention": _("Vigie (durée de conservation)"),
    "anonymous": _("Personne non identifiée"),
    "manual": _("Vigie (vérification demandée)"),
    "batch": _("Vigie (lot)"),
    "scheduled": _("Vigie (revérification planifiée)"),
    "cli": _("Ligne de commande"),
    "on_record": _("Vigie (vérification à l'enregistrement)"),
}

# Triggers as a detail (``verifications.enums.Trigger``, and the back-office's re-queue).
_TRIGGERS: dict[str, Promise] = {
    "manual": _("à la demande"),
    "batch": _("lot"),
    "scheduled": _("revérification planifiée"),
    "cli": _("ligne de commande"),
    "on_record": _("à l'enregistrement"),
    "manual_check": _("vérification manuelle"),
    "override": _("décision d'un superviseur"),
    "backoffice": _("back-office"),
}

_REQUEST_STATES: dict[str, Promise] = {
    "pending": _("en attente"),
    "running": _("en cours"),
    "done": _("terminée"),
}


def _pair(label: Any, value: Any) -> str:
    """ "label : value" as the language writes it (French puts a space before the colon,
    English does not: "Format: CSV")."""
    return gettext("%(label)s : %(value)s") % {"label": label, "value": value}


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def _yes_no(value: Any) -> str:
    return gettext("oui") if value else gettext("non")


def _when(value: Any) -> str:
    """An ISO date or date-time as every page writes it (09/04/2008, 09/04/2008 14:05)."""
    if not isinstance(value, str) or not value:
        return str(value) if value not in (None, "") else "—"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) == 10:  # a date alone
        return moment.strftime("%d/%m/%Y")
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%d/%m/%Y %H:%M")


def _verdict(value: Any) -> str:
    verdicts = _claim_words.verdicts
    return str(verdicts[value]) if value in verdicts else gettext("Non vérifié")


def _kind(value: Any) -> str:
    kinds = _claim_words.kinds
    return str(kinds[value]) if value in kinds else str(value)


def _source(value: Any) -> str:
    return choice_label(Source, str(value)) if value else "—"


def _field_label(name: str, kind: Any = None) -> str:
    """A field's label: the claim's declared field as its form labels it (claim edits carry
    their ``kind``), else a field of the applicant, the institution, its settings or a user."""
    if kind in _claim_words.kinds:
        labels = _claim_words.claim_field_labels(kind)
        if name in labels:
            return str(labels[name])
    models: tuple[type[Model], ...] = (Applicant, Institution, User, *_claim_words.setting_models)
    for model in models:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(field, Field):
            return str(field.verbose_name)
    return name


def _fields(value: Any, details: Mapping[str, Any]) -> str:
    kind = details.get("kind")
    return ", ".join(_field_label(str(name), kind) for name in value or ()) or "—"


def _setting_value(value: Any) -> str:
    if isinstance(value, bool):
        return _yes_no(value)
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        return _when(value) if value[:4].isdigit() and "-" in value else value
    if isinstance(value, list):
        return ", ".join(_setting_value(item) for item in value) or "—"
    return _number(value)


def _changes(value: Any, _details: Mapping[str, Any]) -> str:
    """Settings changed: ``{"night_start": [old, new], "cvec.interval_days": [old, new]}``."""
    parts = []
    for name, pair in sorted((value or {}).items()):
        kind, _dot, field = name.rpartition(".")
        label = _field_label(field)
        if kind:
            label = f"{_kind(kind)}, {label}"
        old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        parts.append(_pair(label, f"{_setting_value(old)} → {_setting_value(new)}"))
    return ", ".join(parts) or "—"


def _filters(value: Any, _details: Mapping[str, Any]) -> str:
    """The journal's filters an export was made with (``AuditFilters.as_details``)."""
    labels = {
        "action": gettext("Action"),
        "actor_id": gettext("Acteur"),
        "date_from": gettext("Du"),
        "date_to": gettext("Au"),
        "file_reference": gettext("Dossier"),
        "object_type": gettext("Type d'objet"),
    }
    parts = []
    for key, raw in (value or {}).items():
        if key == "action":
            words = choice_label(AuditAction, str(raw))
        elif key == "object_type":
            words = object_type_label(str(raw))
        elif key == "actor_id":
            user = User.objects.filter(pk=raw).first() if isinstance(raw, int) else None
            words = person_name(user) if user else f"#{raw}"
        elif key in ("date_from", "date_to"):
            words = _when(raw)
        else:
            words = str(raw)
        parts.append(_pair(labels.get(key, key), words))
    return ", ".join(parts) or gettext("aucun")


def _claims(value: Any, _details: Mapping[str, Any]) -> str:
    """Claims: a count, the kinds of an imported row, or the count per kind of an import."""
    if isinstance(value, dict):
        return ", ".join(_pair(_kind(k), _number(n)) for k, n in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_kind(k) for k in value) or "—"
    return _number(value)


def _reason(value: Any, details: Mapping[str, Any]) -> str:
    """The reason's sentence with the values the decision gave it (``reason_params``, recorded
    since 2026-12-05; before, the sentence's values show as "—")."""
    if value:
        text = _claim_words.reason(
            str(value), details.get("reason_params") or {}, get_language() or "fr"
        )
        if text is not None:
            return text
    return str(value) if value else "—"


def _reason_params(value: Any, _details: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} = {item}" for key, item in sorted((value or {}).items())) or "—"


def _alert(value: Any, details: Mapping[str, Any]) -> str:
    return _claim_words.alert(str(value), str(details.get("source") or "")) or str(value)


def _seconds(value: Any, _details: Mapping[str, Any]) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    if value and value % 60 == 0:
        return ngettext("%(n)s minute", "%(n)s minutes", value // 60) % {"n": value // 60}
    return ngettext("%(n)s seconde", "%(n)s secondes", value) % {"n": value}


def _days(value: Any, _details: Mapping[str, Any]) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    return ngettext("%(n)s jour", "%(n)s jours", value) % {"n": value}


def _characters(value: Any, _details: Mapping[str, Any]) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    return ngettext("%(n)s caractère", "%(n)s caractères", value) % {"n": value}


def _ref(value: Any, _details: Mapping[str, Any]) -> str:
    return f"n° {value}" if value not in (None, "") else "—"


def _plain(fn: Callable[[Any], str]) -> Callable[[Any, Mapping[str, Any]], str]:
    return lambda value, _details: fn(value)


Words = Callable[[Any, Mapping[str, Any]], str]

# What the public page answered about a certificate (verifications.services.certificates).
CERTIFICATE_STATES = {
    "valid": _("authentique, toujours valable"),
    "erased": _("révoqué : dossier effacé"),
    "verdict_changed": _("révoqué : verdict changé depuis"),
    "declaration_changed": _("révoqué : déclaration modifiée depuis"),
}

# Every detail key the code writes: its label, and its value in words.
DETAIL_WORDS: dict[str, tuple[Promise, Words]] = {
    "kind": (_("Déclaration"), _plain(_kind)),
    "claim": (_("Déclaration"), _ref),
    "claims": (_("Déclarations"), _claims),
    "request": (_("Demande de vérification"), _ref),
    "batch": (_("Lot"), _ref),
    "change": (
        _("Changement"),
        _plain(lambda v: str(BATCH_CHANGES.get(v) or WEBHOOK_CHANGES.get(v, v))),
    ),
    "trigger": (_("Origine"), _plain(lambda v: str(_TRIGGERS.get(v, v)))),
    "verdict": (_("Verdict"), _plain(_verdict)),
    "from": (_("Verdict précédent"), _plain(_verdict)),
    "to": (_("Nouveau verdict"), _plain(_verdict)),
    "verdict_reset_from": (_("Verdict remis à « Non vérifié »"), _plain(_verdict)),
    "verdicts_reset": (_("Verdicts remis à « Non vérifié »"), _plain(_number)),
    "reason": (_("Motif"), _reason),
    # Said within the reason's sentence when there is one (``_SAID_WITH``).
    "reason_params": (_("Valeurs du motif"), _reason_params),
    "applied": (_("Reporté sur la déclaration"), _plain(_yes_no)),
    "variant": (_("Variante"), _plain(lambda v: _claim_words.variant_label(v) if v else "—")),
    "variants": (_("Variantes essayées"), _plain(_yes_no)),
    "fields": (_("Champs"), _fields),
    "count": (_("Déclarations"), _plain(_number)),
    "skipped_busy": (_("Déjà en cours de vérification"), _plain(_number)),
    "requests": (_("Vérifications"), _plain(_number)),
    "attempts": (_("Appels aux sources"), _plain(_number)),
    "calls": (_("Appels à la source"), _plain(_number)),
    "applicants": (_("Candidats"), _plain(_number)),
    "rows": (_("Lignes"), _plain(_number)),
    "row_limit": (_("Lignes au plus"), _plain(_number)),
    "format": (_("Format"), _plain(lambda v: str(v).upper())),
    "filters": (_("Filtres"), _filters),
    "filename": (_("Fichier"), _plain(str)),
    "encoding": (_("Encodage"), _plain(str)),
    "role": (_("Rôle"), _plain(lambda v: choice_label(Role, str(v)))),
    "source": (_("Source"), _plain(_source)),
    "fingerprint": (_("Empreinte du jeton"), _plain(lambda v: str(v) if v else "—")),
    "expires_at": (_("Expire le"), _plain(_when)),
    "threshold_days": (_("Alerte"), _days),
    "changes": (_("Paramètres"), _changes),
    "requeued": (_("Remise en file"), _plain(_yes_no)),
    "previous_state": (
        _("État précédent"),
        _plain(lambda v: str(_REQUEST_STATES.get(v, v))),
    ),
    "breaker_reset": (_("Disjoncteur réinitialisé"), _plain(_source)),
    "alert_resolved": (_("Alerte résolue"), _alert),
    "locked_out": (_("Compte bloqué"), _plain(_yes_no)),
    "failures": (_("Échecs"), _plain(_number)),
    "lockout_seconds": (_("Durée du blocage"), _seconds),
    "justification_length": (_("Justification"), _characters),
    "deleted": (_("Événements supprimés"), _plain(_number)),
    "before": (_("Antérieurs au"), _plain(_when)),
    "finished_before": (_("Terminées avant le"), _plain(_when)),
    "audit_purged_through_seq": (_("Supprimés jusqu'au n°"), _plain(_number)),
    "audit_purged_through_hash": (_("Empreinte du dernier supprimé"), _plain(str)),
    "number": (_("Certificat"), _plain(str)),
    "first": (_("Première délivrance"), _plain(_yes_no)),
    "language": (_("Langue"), _plain(lambda v: "English" if v == "en" else "Français")),
    "state": (_("Réponse donnée"), _plain(lambda v: str(CERTIFICATE_STATES.get(v, v)))),
    "certificates": (_("Certificats"), _plain(_number)),
    "downloaded": (_("Téléchargé"), _plain(_yes_no)),
    "background": (_("Préparé en arrière-plan"), _plain(_yes_no)),
    # Webhook endpoints (webhooks/services/)
    "url": (_("Adresse"), _plain(str)),
    "events": (_("Événements"), _plain(lambda v: ", ".join(map(str, v)) if v else "—")),
    "secret": (_("Empreinte du secret"), _plain(str)),
    "failing_since": (_("En échec depuis le"), _plain(_when)),
    "delivery": (_("Livraison"), _ref),
    "event": (_("Événement"), _plain(str)),
}


def detail_words(key: str, value: Any, details: Mapping[str, Any]) -> tuple[str, str]:
    """One detail as (label, value in words); a key no entry knows keeps its name."""
    entry = DETAIL_WORDS.get(key)
    if entry is None:
        return key, str(value)
    label, words = entry
    return str(label), words(value, details)


# Details said within another's words when that one is there: key → the other key.
_SAID_WITH = {"reason_params": "reason"}


def details_text(details: Mapping[str, Any] | None) -> str:
    """Every detail in words, "label : value" separated by " ; " (the exports), with the
    language's punctuation ("label: value; …" in English)."""
    details = details or {}
    order = {key: n for n, key in enumerate(DETAIL_WORDS)}
    keys = sorted(
        (key for key in details if _SAID_WITH.get(key) not in details),
        key=lambda key: (order.get(key, len(order)), key),
    )
    # Translators: between two details of an audit event in the exports.
    separator = gettext(" ; ")
    return separator.join(_pair(*detail_words(key, details[key], details)) for key in keys)


def details_summary(details: Mapping[str, Any] | None) -> str:
    """What an event's details say at a glance: what happened to a batch, the claim kind, the
    verdict reached or set, the fields changed, the export's format. Ids and hashes stay in the
    export."""
    details = details or {}
    parts = []
    # (A batch's pause, resume or re-run is its action: ``action_label``.)
    if details.get("kind") in _claim_words.kinds:
        parts.append(_kind(details["kind"]))
    for key in ("verdict", "to"):
        if details.get(key) in _claim_words.verdicts:
            label = _verdict(details[key])
            if "from" in details:  # events before 2026-12 did not record it: no bare arrow
                label = f"{_verdict(details['from'])} → {label}"
            parts.append(label)
    if details.get("verdict_reset_from") in _claim_words.verdicts:
        parts.append(f"{_verdict(details['verdict_reset_from'])} → {_verdict('')}")
    if details.get("applied") is False:
        parts.append(gettext("non reporté sur la déclaration, modifiée depuis"))
    if details.get("variant"):
        parts.append(
            gettext("variante : %(what)s")
            % {"what": _claim_words.variant_label(details["variant"])}
        )
    if details.get("fields"):
        parts.append(_fields(details["fields"], details))
    if isinstance(details.get("verdicts_reset"), int) and details["verdicts_reset"]:
        n = details["verdicts_reset"]
        parts.append(
            ngettext(
                "%(n)s verdict remis à « Non vérifié »",
                "%(n)s verdicts remis à « Non vérifié »",
                n,
            )
            % {"n": n}
        )
    if details.get("changes"):
        parts.append(_changes(details["changes"], details))
    if details.get("number"):
        parts.append(str(details["number"]))
    if details.get("state") in CERTIFICATE_STATES:
        parts.append(str(CERTIFICATE_STATES[details["state"]]))
    if isinstance(details.get("certificates"), int):
        n = details["certificates"]
        parts.append(ngettext("%(n)s certificat", "%(n)s certificats", n) % {"n": n})
    if details.get("format"):
        parts.append(str(details["format"]).upper())
    if isinstance(details.get("count"), int):
        n = details["count"]
        parts.append(ngettext("%(n)s déclaration", "%(n)s déclarations", n) % {"n": n})
    return " · ".join(parts)


# The actions of a batch's life, which events before 2026-12 wrote as ``edited`` with a
# ``change`` detail (``AuditAction.BATCH_PAUSED``…).
_BATCH_CHANGE_ACTIONS = {
    "paused": AuditAction.BATCH_PAUSED,
    "resumed": AuditAction.BATCH_RESUMED,
    "rerun_failed": AuditAction.BATCH_RERUN,
}


def action_of(event: AuditEvent) -> str:
    """The event's action: a batch's pause, resume or re-run even when it was written as an
    edit (before 2026-12)."""
    if event.action == AuditAction.EDITED and isinstance(event.details, dict):
        change = event.details.get("change")
        if isinstance(change, str) and change in _BATCH_CHANGE_ACTIONS:
            return _BATCH_CHANGE_ACTIONS[change]
    return event.action


def action_label(event: AuditEvent) -> str:
    """The action in words ("Mise en pause", "Reprise", "Modification"…), in the active
    language: the journal's action column, the timeline and the exports."""
    return choice_label(AuditAction, action_of(event))


def object_type_label(object_type: str) -> str:
    return str(AUDIT_OBJECT_TYPES.get(object_type, object_type))


def person_name(user: User) -> str:
    """A person by name ("Marie Dupont"), by username when no name is set."""
    return user.get_full_name() or user.get_username()


def actor_name(event: AuditEvent) -> str:
    """Who acted: the person by name (their username when no name is set), or what acted
    when no person did (Vigie, the retention purge, the command line). Reads ``event.actor``:
    select it with the events."""
    if event.actor_id is not None and event.actor is not None:
        return person_name(event.actor)
    label = event.actor_label
    if label in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[label])
    if label.startswith("cli:"):
        return gettext("Ligne de commande (%(who)s)") % {"who": label[4:]}
    return label
