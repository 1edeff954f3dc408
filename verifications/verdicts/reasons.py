"""The texts of verdict reasons and data caveats, keyed by stable codes.

A :class:`~verifications.verdicts.Decision` stores ``reason_code`` and ``reason_params`` next to
the rendered French ``reason``, and ``note_codes`` next to the rendered ``notes``, so any page or
command can render them again in another language with :func:`render_reason` and
:func:`render_note`. Templates are ``gettext_lazy`` (French msgids, the house rule); parameters
never hold a name or a birth date.
"""

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from verifications.claims import variant_label
from verifications.enums import Verdict
from verifications.providers.error_codes import describe as describe_error


DEFAULT_LANGUAGE = "fr"
MISSING = "—"

# The CVEC's "Etat de validation" codes of a valid attestation, in words (verbatim table of
# docs/api/cvec.md §Validity): a reason says the state in the language rendered, not in the
# source's own French ``libelle`` (kept in the evidence). Any other state is not valid.
CVEC_VALID_STATES: dict[str, Promise] = {
    "70": _("Attestation valide"),
    "71": _("Attestation valide, boursier"),
    "73": _("Attestation valide, après exonération"),
    "75": _("Attestation valide, payé"),
    "76": _("Attestation valide, payé par un tiers"),
    "98": _("Attestation valide remboursée"),
}

REASONS: dict[str, Promise] = {
    # --- Any source: the request could not be answered ----------------------------------------
    "source.not_configured": _(
        "La source n'est pas configurée pour cet établissement (paramètre manquant ou invalide : "
        "%(setting)s). Un administrateur doit la paramétrer."
    ),
    "source.token_invalid": _(
        "La source refuse le jeton d'accès (invalide ou absent, code %(code)s). Un administrateur "
        "doit le renseigner à nouveau."
    ),
    "source.token_expired": _(
        "Le jeton d'accès à la source a expiré (code %(code)s). Un administrateur doit le "
        "renouveler."
    ),
    "source.token_revoked": _(
        "Le jeton d'accès à la source a été mis sur liste noire (code %(code)s). Un "
        "administrateur doit en obtenir un nouveau."
    ),
    "source.forbidden": _(
        "Le jeton d'accès n'a pas les droits nécessaires pour cette vérification (code "
        "%(code)s). Un administrateur doit demander l'habilitation."
    ),
    "source.missing_recipient": _(
        "La source exige le SIRET de l'établissement destinataire des données (code %(code)s). "
        "Un administrateur doit le renseigner."
    ),
    "source.route_not_found": _(
        "L'adresse de la source est incorrecte (route introuvable ou redirection, code "
        "%(code)s). Un administrateur doit vérifier la configuration."
    ),
    "source.invalid_request": _(
        "La source a refusé la requête : paramètres invalides (%(error)s)."
    ),
    "source.unavailable": _(
        "La source n'a pas pu répondre après plusieurs tentatives (%(error)s)."
    ),
    "source.failing_for_this_request": _(
        "La source a répondu aux autres demandes, mais a échoué %(failures)s fois de suite pour "
        "celle-ci (%(error)s) : la vérification n'a pas pu aboutir. Un agent peut la relancer "
        "plus tard ou vérifier la déclaration autrement."
    ),
    "source.down": _(
        "La source est hors service : elle échoue pour la plupart des demandes (dernière "
        "erreur : %(error)s). La vérification n'a pas pu aboutir à temps ; elle pourra être "
        "relancée quand la source répondra de nouveau."
    ),
    "source.rate_limited": _(
        "La source limitait le nombre de requêtes : la vérification n'a pas pu aboutir à temps."
    ),
    "source.conflict": _(
        "Une requête identique était déjà en cours auprès de la source : la vérification n'a "
        "pas pu aboutir à temps."
    ),
    "source.unexpected_answer": _(
        "La réponse de la source n'a pas le format attendu (%(missing)s) : la vérification n'a "
        "pas pu aboutir."
    ),
    # --- Scolarité ----------------------------------------------------------------------------
    "scolarite.confirmed": _(
        "L'élève est scolarisé dans l'établissement %(uai)s pour l'année scolaire %(school_year)s."
    ),
    "scolarite.not_enrolled": _(
        "La source indique que l'élève n'est pas scolarisé pour l'année scolaire %(school_year)s "
        "(statut : %(status)s)."
    ),
    "scolarite.other_establishment": _(
        "La source indique que l'élève est scolarisé, mais sa réponse porte le code "
        "d'établissement %(source_uai)s et non celui déclaré (%(declared_uai)s) : il peut s'agir "
        "d'un site annexe ou d'une erreur de la source. Un agent doit vérifier."
    ),
    "scolarite.other_year": _(
        "La source indique que l'élève est scolarisé, mais sa réponse porte l'année scolaire "
        "%(source_year)s et non l'année déclarée (%(declared_year)s) : il peut s'agir d'une "
        "erreur de libellé de la source. Un agent doit vérifier."
    ),
    "scolarite.identity_mismatch": _(
        "La source a trouvé un élève, mais son identité diffère de celle du candidat "
        "(%(fields)s) : un agent doit vérifier."
    ),
    "scolarite.not_found": _(
        "La source ne connaît pas d'élève avec cette identité dans cet établissement pour cette "
        "année scolaire. Ce n'est pas la preuve d'une fausse déclaration."
    ),
    "scolarite.scope_missing": _(
        "La réponse ne contient pas le statut de scolarité : le jeton n'a pas l'habilitation "
        "« men_statut_scolarite ». Un administrateur doit la demander."
    ),
    # --- CVEC ---------------------------------------------------------------------------------
    "cvec.confirmed": _("L'attestation CVEC est valide (état %(state)s : %(label)s)."),
    "cvec.invalid_state": _(
        "L'attestation CVEC existe mais n'est pas valide (état %(state)s : %(label)s)."
    ),
    "cvec.holder_mismatch": _(
        "L'attestation CVEC existe, mais son titulaire diffère du candidat (%(fields)s) : un "
        "agent doit vérifier."
    ),
    "cvec.campaign_differs": _(
        "La source ne répond que pour la campagne en cours (%(current)s) ; la campagne déclarée "
        "(%(declared)s) ne peut pas être vérifiée : un agent doit vérifier."
    ),
    "cvec.campaign_echo_differs": _(
        "La source répond pour la campagne %(source)s, et non pour la campagne déclarée "
        "(%(declared)s) : l'état de l'attestation ne vaut que pour cette campagne. Un agent "
        "doit vérifier."
    ),
    "cvec.not_found": _(
        "La source ne connaît pas cette attestation CVEC pour ce nom dans la campagne en cours. "
        "Ce n'est pas la preuve d'une fausse déclaration."
    ),
    # --- Certification ------------------------------------------------------------------------
    "certification.confirmed": _("La certification %(code)s existe et est active."),
    "certification.confirmed_level": _(
        "La certification %(code)s existe, est active et son niveau européen (%(level)s) "
        "atteint le niveau requis (%(min_level)s)."
    ),
    "certification.archived": _(
        "La certification %(code)s existe ; sa fiche est archivée (fin d'enregistrement : "
        "%(ended)s)."
    ),
    "certification.archived_level": _(
        "La certification %(code)s existe et son niveau européen (%(level)s) atteint le niveau "
        "requis (%(min_level)s) ; sa fiche est archivée (fin d'enregistrement : %(ended)s)."
    ),
    "certification.code_differs": _(
        "Certif Info a renvoyé une fiche dont le code (%(source_code)s) diffère du code déclaré "
        "(%(code)s) : un agent doit vérifier."
    ),
    "certification.below_level": _(
        "La certification %(code)s est de niveau européen %(level)s, inférieur au niveau requis "
        "(%(min_level)s)."
    ),
    "certification.level_unknown": _(
        "Certif Info n'indique pas de niveau européen pour la certification %(code)s : le niveau "
        "requis (%(min_level)s) ne peut pas être vérifié."
    ),
    "certification.not_found": _(
        "Certif Info ne connaît pas la certification %(code)s. Ce n'est pas la preuve d'une "
        "fausse déclaration."
    ),
    # --- Covoiturage --------------------------------------------------------------------------
    "covoiturage.confirmed": _("L'attestation de covoiturage existe et est valide."),
    "covoiturage.expired": _("L'attestation de covoiturage existe mais a expiré."),
    "covoiturage.uuid_differs": _(
        "La source a renvoyé une autre attestation que celle déclarée : un agent doit vérifier."
    ),
    "covoiturage.not_found": _(
        "Le registre de preuve de covoiturage ne connaît pas cette attestation. Ce n'est pas la "
        "preuve d'une fausse déclaration."
    ),
    # --- Identity variants (verifications.rematch) -------------------------------------------
    "variant.found": _(
        "La source connaît une personne répondant à la variante essayée (%(variant)s), pas à "
        "l'identité du dossier ; pour cette variante, elle répond : %(source_verdict)s. Vérifiez, "
        "puis corrigez le dossier si la source a raison."
    ),
}

NOTES: dict[str, Promise] = {
    "scolarite.nightly": _(
        "Données du second degré mises à jour chaque nuit ; premier degré en temps réel à partir "
        "du lendemain de la rentrée."
    ),
    "scolarite.private_before_october": _(
        "Les établissements privés sous contrat ne sont souvent présents qu'après le constat de "
        "rentrée d'octobre."
    ),
    "scolarite.next_year_provisional": _(
        "Les données d'une année scolaire qui n'a pas commencé sont provisoires (collégiens dès "
        "fin juin, lycéens dès fin août)."
    ),
    "scolarite.not_covered": _(
        "Non couverts par la source : BTS et CPGE (API Statut étudiant), enseignement privé hors "
        "contrat, lycées agricoles, instruction en famille."
    ),
    "scolarite.scholarship_unreliable": _(
        "« Non boursier » n'est fiable qu'à partir de la mi-octobre (la base des bourses est "
        "purgée en août) ; « boursier » est fiable."
    ),
    "scolarite.identity_from_school": _(
        "Le nom et le prénom renvoyés sont ceux de la fiche élève tenue par l'établissement."
    ),
    "scolarite.year_label_format": _(
        "La source écrit l'année scolaire autrement (par exemple « 2025 » pour 2025-2026) : il "
        "s'agit bien de l'année déclarée."
    ),
    "source.masked_fields": _(
        "Certains champs n'ont pas été communiqués par la source (habilitation du jeton) et "
        "n'ont pas pu être comparés."
    ),
    "cvec.current_campaign": _("L'API CVEC ne répond que pour la campagne en cours."),
    "cvec.birth_date_not_compared": _(
        "La date de naissance du titulaire n'a pas pu être comparée à celle du candidat."
    ),
    "cvec.campaign_label_format": _(
        "La source écrit la campagne autrement (par exemple « 2025 » pour 2025-2026) : il "
        "s'agit de la même campagne."
    ),
    "certification.holding_not_checked": _(
        "Certif Info décrit la certification ; il ne dit pas si la personne la détient : le "
        "diplôme ou le titre doit être vérifié par ailleurs."
    ),
    "certification.status_unknown": _(
        "Certif Info n'a pas indiqué si la certification est active ou archivée."
    ),
    "certification.several_candidates": _(
        "Plusieurs fiches Certif Info portent ce code ; une fiche active a été retenue."
    ),
    "certification.archived_caveat": _(
        "Une fiche archivée n'invalide pas une certification obtenue avant la fin de son "
        "enregistrement : vérifier sur le diplôme ou le titre qu'il a été délivré avant la date "
        "indiquée."
    ),
    "certification.archived_end_unknown": _(
        "La fiche est archivée, sans date de fin d'enregistrement connue : vérifier sur le "
        "diplôme ou le titre qu'il a été délivré pendant l'enregistrement de la certification."
    ),
    "certification.code_form": _(
        "Certif Info écrit le code autrement (zéros en tête, espaces, majuscules) : il s'agit du "
        "même code."
    ),
    "covoiturage.uuid_format": _(
        "La source écrit l'identifiant de l'attestation autrement (majuscules, tirets) : il "
        "s'agit de la même attestation."
    ),
    "covoiturage.deprecated": _(
        "L'API du registre de preuve de covoiturage est dépréciée et ne sera pas remplacée : "
        "elle peut cesser de répondre à tout moment."
    ),
    "variant.format_only": _(
        "Trouvé avec une autre écriture de la même identité (accents, majuscules, traits "
        "d'union ou espaces) : la réponse vaut pour le dossier."
    ),
    "variant.correct_record": _(
        "Si la source a raison, corrigez le dossier avec la variante : une nouvelle vérification "
        "est alors lancée."
    ),
}


def render_reason(
    code: str, params: Mapping[str, Any] | None = None, *, language: str = DEFAULT_LANGUAGE
) -> str:
    """The reason ``code`` in ``language`` with its parameters (missing ones shown as "—")."""
    with translation.override(language):
        values = {key: _param(key, value) for key, value in (params or {}).items()}
        if code.startswith("cvec.") and str(values.get("state")) in CVEC_VALID_STATES:
            values["label"] = str(CVEC_VALID_STATES[str(values["state"])])
        template = str(REASONS[code])
        if "%(error)s" in template and "error" not in values:
            values["error"] = _error_words(params or {})
        return template % _Defaulting(values) if "%(" in template else template


def _error_words(params: Mapping[str, Any]) -> str:
    """A reason's ``error``: its ``code`` (with ``status`` and ``source``) in words, in the
    language being rendered (``providers.error_codes``)."""
    words = describe_error(
        params.get("code"), status=params.get("status"), source=params.get("source") or ""
    )
    return words or str(_("erreur non précisée"))


def render_note(code: str, *, language: str = DEFAULT_LANGUAGE) -> str:
    with translation.override(language):
        return str(NOTES[code])


def _param(key: str, value: Any) -> Any:
    """A parameter as the text shows it: a verdict or a variant in words (in the language being
    rendered), ``None`` as "—"."""
    if value is None:
        return MISSING
    if key.endswith("verdict") and value in Verdict.values:
        return str(Verdict(value).label)
    if key == "variant":
        return variant_label(str(value))
    return value


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return MISSING
