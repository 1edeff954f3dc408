"""Provider error codes in words: what Vigie shows people instead of a bare code.

One table for the codes the sources send in their error bodies (API Particulier's ``errors[].code``,
covoiturage's JSON-RPC ``error.code``, the CVEC's ``code``) and for the codes Vigie records itself
when a call fails without one (a timeout, a refused connection, an HTTP status). Where the code
comes from and what it means: ``docs/PROVIDER_ERRORS.md``.

    describe("30999", source="api_particulier")
    # "Erreur du fournisseur de données (MEN), code 30999"
    describe("", status=502)             # "Erreur du serveur de la source (HTTP 502)"
    describe("timeout")                  # "Délai de réponse dépassé"

A source's own code is shown after its words (people quote it to the provider's support); the
name of the data provider behind API Particulier (``meta.provider``: "MEN" for the statut élève
scolarisé, the only API Particulier endpoint Vigie calls) is shown where the code is the
provider's. Texts are ``gettext_lazy``: ``describe`` renders them in the active language. Pure: no
settings, no database.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ErrorCode:
    label: Promise
    # The data provider behind the source, when the error body's meta.provider names it.
    provider: str = ""


_MEN = "MEN"  # Ministère de l'Éducation nationale: API Particulier's statut élève scolarisé

# API Particulier v3/v4 ``errors[].code`` (docs/PROVIDER_ERRORS.md, "API Particulier").
API_PARTICULIER: Mapping[str, ErrorCode] = {
    "00015": ErrorCode(_("Une requête identique est déjà en cours de traitement")),
    "00100": ErrorCode(_("Droits du jeton d'accès insuffisants")),
    "00101": ErrorCode(_("Jeton d'accès invalide ou absent")),
    "00103": ErrorCode(_("Jeton d'accès expiré")),
    "00105": ErrorCode(_("Jeton d'accès sur liste noire")),
    "00203": ErrorCode(_("SIRET de l'établissement destinataire manquant")),
    "00210": ErrorCode(_("SIRET de l'établissement destinataire invalide")),
    "00360": ErrorCode(_("Numéro INE mal formé")),
    "00366": ErrorCode(_("Paramètres d'état civil mal formés")),
    "00419": ErrorCode(_("Code d'établissement et périmètre incompatibles")),
    "00427": ErrorCode(_("Sexe de l'état civil manquant")),
    "00429": ErrorCode(_("Trop de requêtes")),
    "00501": ErrorCode(_("Erreur réseau entre API Particulier et le fournisseur de données")),
    "30001": ErrorCode(_("Fournisseur de données indisponible ou en maintenance"), _MEN),
    "30002": ErrorCode(_("Le fournisseur de données n'a pas répondu à temps"), _MEN),
    "30003": ErrorCode(_("Aucun élève trouvé par le fournisseur de données"), _MEN),
    "30004": ErrorCode(_("Adresse du fournisseur de données introuvable (DNS)"), _MEN),
    "30999": ErrorCode(_("Erreur du fournisseur de données"), _MEN),
}

# Registre de preuve de covoiturage, JSON-RPC ``error.code``.
COVOITURAGE: Mapping[str, ErrorCode] = {
    "-32501": ErrorCode(_("Jeton d'accès invalide ou absent")),
    "-32503": ErrorCode(_("Droits insuffisants")),
    "-32504": ErrorCode(_("Attestation introuvable")),
    "-32602": ErrorCode(_("Paramètres invalides")),
}

# API de contrôle de la CVEC: its body's ``code`` repeats the HTTP status.
CVEC: Mapping[str, ErrorCode] = {
    "400": ErrorCode(_("Attestation introuvable")),
    "404": ErrorCode(_("Code d'attestation manquant")),
}

BY_SOURCE: Mapping[str, Mapping[str, ErrorCode]] = {
    "api_particulier": API_PARTICULIER,
    "covoiturage": COVOITURAGE,
    "cvec": CVEC,
}

# Codes Vigie records itself (providers/http.py, providers/base.py, pipeline/call.py): shown
# without the code, which means nothing to anyone but Vigie.
VIGIE: Mapping[str, Promise] = {
    "timeout": _("Délai de réponse dépassé"),
    "connection_error": _("Connexion à la source impossible"),
    "tls_error": _("Échec de la connexion sécurisée (TLS) à la source"),
    "transport_error": _("Erreur réseau"),
    "response_too_large": _("Réponse de la source trop volumineuse"),
    "invalid_base_url": _("Adresse de la source inutilisable"),
    "unavailable": _("Source indisponible"),
    "unspecified": _("Erreur non précisée"),
    "vigie.invalid_query": _("Données de la demande invalides : rien n'a été envoyé"),
    "vigie.route_not_found": _("Adresse de la source incorrecte (route introuvable)"),
    "vigie.unexpected_redirect": _("Adresse de la source incorrecte (redirection)"),
}

HTTP_STATUSES: Mapping[int, Promise] = {
    400: _("Requête refusée par la source"),
    401: _("Authentification refusée par la source"),
    403: _("Accès refusé par la source"),
    404: _("Introuvable à la source"),
    409: _("Requête identique déjà en cours"),
    422: _("Paramètres refusés par la source"),
    429: _("Trop de requêtes"),
    500: _("Erreur interne de la source"),
    502: _("Erreur du serveur de la source"),
    503: _("Source indisponible ou en maintenance"),
    504: _("La source n'a pas répondu à temps"),
}


def lookup(code: str, source: str = "") -> ErrorCode | None:
    """The table entry of a source's own ``code``: the source's table first, then those whose
    codes cannot be mistaken for another's (API Particulier's and covoiturage's)."""
    if source in BY_SOURCE and code in BY_SOURCE[source]:
        return BY_SOURCE[source][code]
    return API_PARTICULIER.get(code) or COVOITURAGE.get(code)


def _status_words(status: int) -> str:
    label = HTTP_STATUSES.get(status)
    if label is None:
        label = (
            _("Erreur du serveur de la source")
            if status >= 500
            else _("Réponse inattendue de la source")
        )
    return gettext("%(label)s (HTTP %(status)s)") % {"label": label, "status": status}


def describe(code: str | None, *, status: int | None = None, source: str = "") -> str:
    """``code`` in words, in the active language; "" when there is nothing to say.

    ``status`` is the HTTP status, used when there is no code (or an ``http_<status>`` code);
    ``source`` picks the table of a source whose codes are ambiguous (the CVEC's "400").
    """
    code = (code or "").strip()
    if code.startswith("http_") and code[5:].isdigit():
        return _status_words(int(code[5:]))
    if not code:
        return _status_words(status) if status else ""
    if code in VIGIE:
        return str(VIGIE[code])
    entry = lookup(code, source)
    if entry is None:
        if status:
            return gettext("%(label)s, code %(code)s") % {
                "label": _status_words(status),
                "code": code,
            }
        return gettext("Erreur non répertoriée, code %(code)s") % {"code": code}
    if entry.provider:
        return gettext("%(label)s (%(provider)s), code %(code)s") % {
            "label": entry.label,
            "provider": entry.provider,
            "code": code,
        }
    return gettext("%(label)s, code %(code)s") % {"label": entry.label, "code": code}
