"""What every provider client takes, returns and raises.

The pipeline (services, tasks, the CLI) is written against these types only:

* inputs: :class:`Identity` and one query dataclass per source (:class:`ScolariteQuery`,
  :class:`CvecQuery`, :class:`CertificationQuery`, :class:`CovoiturageQuery`), built by the
  service from the applicant and the claim;
* configuration: :class:`ProviderConfig`, built per call with :meth:`ProviderConfig.from_settings`
  (settings are read when the method is called, never at import time) and an optional
  per-institution token that overrides the environment;
* output: :class:`ProviderResult` -- a definite business answer, "not found" included
  (``found=False``), with a normalised record per source and the :class:`CallInfo` of the call;
* failures: :class:`ProviderError` and its subclasses, each carrying the :class:`CallInfo` of the
  call that failed:

  ====================== ============================================= ==========================
  exception              raised for                                    the pipeline
  ====================== ============================================= ==========================
  ProviderUnavailable    timeouts, connection errors, 5xx (504 with    retries with backoff,
                         ``meta.retry_in`` honoured in ``retry_in``)   then ``unavailable``
  ProviderRateLimited    429 (``conflict=False``, ``retry_after`` from waits ``retry_after``
                         ``Retry-After``); API Particulier 409 00015   seconds (429 pauses the
                         (``conflict=True``, about 60 s)               whole source)
  ProviderRejected       400/401/403/422, bad parameters, a route that final: ``rejected`` and
                         does not exist                                an admin alert
  ProviderNotConfigured  no base URL, an unusable base URL or version, records
                         a missing required token or recipient: nothing ``skipped_not_configured``
                         was sent                                      (verdict ``rejected``)
  ====================== ============================================= ==========================

  ``ProviderNotConfigured`` is deliberately *not* a ``ProviderRejected``: nothing went upstream.

Every provider module exposes ``verify(session, query, config) -> ProviderResult``. A call that
needs several upstream requests (Certif Info: search, then detail) reports each of them in
``calls`` (``call`` is the last one): record one attempt per item of ``calls``.

``CallInfo.redacted`` is fit for an append-only audit row: route templates, parameter *names*,
response keys, HTTP status and error codes -- never a name, a birth date, an INE, a token, an
attestation number or a query string.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from verifications.enums import Source


# --- Inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who the applicant says they are: what the sources match on.

    ``first_names`` are the given names in civil-status order, one item per given name (a given
    name may contain a space or a hyphen: "Marie Davida" is one item). ``sex`` is "M" or "F".

    API Particulier needs every field but ``usage_name`` and ``ine``. The verdicts compare only
    the fields that are filled in, so a partial identity (the CLI's ``verify cvec --nom`` without
    ``--date-naissance``: ``first_names=()``, ``sex=""``, ``birth_date=None``) is allowed there.
    """

    birth_name: str
    usage_name: str
    first_names: tuple[str, ...]
    sex: str
    birth_date: dt.date | None
    ine: str = ""


@dataclass(frozen=True)
class ScolariteQuery:
    """API Particulier, statut élève scolarisé. ``recipient`` is the institution's SIRET."""

    identity: Identity
    uai: str
    school_year: int
    recipient: str


@dataclass(frozen=True)
class CvecQuery:
    """API de contrôle de la CVEC. ``campaign`` is the campaign's first year (2025 for
    2025-2026); the API only answers for the campaign in progress (see ``cvec.py``)."""

    code: str
    birth_name: str
    campaign: int | None = None


@dataclass(frozen=True)
class CertificationQuery:
    """Certif Info. ``code`` is an RNCP code (RNCP12345), an RS code (RS1234) or a numeric
    Certif Info id."""

    code: str


def certification_code_key(code: str) -> str:
    """The form under which two writings of one RNCP/RS code or Certif Info id compare equal:
    spaces and case ignored, and the zeros leading the number ("RNCP012345" is "RNCP12345",
    "00108536" is "108536"). Anything else is returned upper-cased without spaces."""
    text = "".join((code or "").split()).upper()
    for prefix in ("RNCP", "RS", ""):
        digits = text[len(prefix) :]
        if text.startswith(prefix) and digits.isdigit():
            return prefix + str(int(digits))
    return text


@dataclass(frozen=True)
class CovoiturageQuery:
    """Registre de preuve de covoiturage: the attestation's UUID."""

    uuid: str


Query = ScolariteQuery | CvecQuery | CertificationQuery | CovoiturageQuery


# --- Configuration ----------------------------------------------------------------------------

# The settings prefix of each source (docs/STYLE.md §Settings): <PREFIX>_BASE_URL, _TOKEN, _TIMEOUT.
SETTINGS_PREFIX: dict[str, str] = {
    Source.API_PARTICULIER: "API_PARTICULIER",
    Source.CVEC: "CVEC",
    Source.CERTIFINFO: "CERTIFINFO",
    Source.COVOITURAGE: "COVOITURAGE",
}
DEFAULT_TIMEOUT = 10.0
# Slightly above a multiple of 3 s, the TCP retransmission window (requests' own advice).
DEFAULT_CONNECT_TIMEOUT = 3.05
# No answer Vigie expects is anywhere near this; a bigger one is not read into memory.
DEFAULT_MAX_RESPONSE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one source.

    ``timeout`` is the read timeout (5 s for API Particulier); the connection timeout is
    ``min(connect_timeout, timeout)``, and the whole exchange (connect + body) is bounded by
    ``connect_timeout + timeout``. ``version`` is API Particulier's route version ("v4" by
    default, "v3" supported); the other sources ignore it (covoiturage carries its version in
    its base URL). An empty ``base_url`` disables the source.
    """

    base_url: str
    token: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT
    version: str = ""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # Called before each upstream call of a check after its first (Certif Info's detail after
    # its search): the pipeline's admission control, which the first call went through. It
    # waits for a slot of the shared limiter or raises a ProviderError. None: no control.
    admit_follow_up: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def configured(self) -> bool:
        return bool(self.base_url.strip())

    @property
    def timeouts(self) -> tuple[float, float]:
        """The ``(connect, read)`` tuple given to requests."""
        return (min(self.connect_timeout, self.timeout), self.timeout)

    def url(self, path: str) -> str:
        """The base URL (trailing slashes ignored) followed by ``path``."""
        return self.base_url.strip().rstrip("/") + path

    @classmethod
    def from_settings(cls, source: str, *, token: str | None = None) -> "ProviderConfig":
        """The configuration of ``source`` from the settings, read now.

        ``token`` is the institution's own credential (decrypted by the caller); when empty or
        ``None`` the ``<PREFIX>_TOKEN`` setting is used.
        """
        from django.conf import settings

        prefix = SETTINGS_PREFIX[source]
        base_url = getattr(settings, f"{prefix}_BASE_URL", "") or ""
        env_token = getattr(settings, f"{prefix}_TOKEN", "") or ""
        timeout = getattr(settings, f"{prefix}_TIMEOUT", None) or DEFAULT_TIMEOUT
        version = getattr(settings, f"{prefix}_VERSION", "") or ""
        return cls(
            base_url=str(base_url),
            token=(token or env_token).strip(),
            timeout=float(timeout),
            version=str(version).strip(),
        )


# --- What a call reports ----------------------------------------------------------------------


@dataclass
class CallInfo:
    """One upstream HTTP exchange, as the append-only attempt row records it.

    ``http_status`` is ``None`` when no answer came (timeout, connection error) or when nothing
    was sent. ``ratelimit_reset`` is an epoch timestamp in seconds. ``redacted`` never holds
    personal data, tokens or query strings (see the module docstring).
    """

    http_status: int | None = None
    duration_ms: int = 0
    upstream_request_id: str = ""
    provider_error_code: str = ""
    ratelimit_limit: int | None = None
    ratelimit_remaining: int | None = None
    ratelimit_reset: float | None = None
    redacted: dict[str, Any] = field(default_factory=dict)


# --- Normalised records, one per source -------------------------------------------------------
# Every field is optional: production masks keys the token's scopes do not cover, and the
# sources' documentation disagrees with itself in places (docs/api/).


@dataclass(frozen=True)
class ScolariteRecord:
    """API Particulier ``data`` (v3/v4). Source keys in brackets."""

    birth_name: str | None = None  # identite.nom (the school's pupil record)
    first_name: str | None = None  # identite.prenom (one string)
    sex: str | None = None  # identite.sexe, "M"/"F"
    birth_date: dt.date | None = None  # identite.date_naissance
    school_year: str | None = None  # annee_scolaire, "2025-2026" or "2025"
    enrolled: bool | None = None  # est_scolarise
    status_code: str | None = None  # statut_eleve.code (ST, AP, ... NS; may evolve)
    status_label: str | None = None  # statut_eleve.libelle
    uai: str | None = None  # etablissement.code_uai
    establishment_name: str | None = None  # etablissement.nom (staging only, unofficial)
    ministry_code: str | None = None  # etablissement.code_ministere_tutelle
    mef_code: str | None = None  # module_elementaire_formation.code_mef_stat
    mef_label: str | None = None  # module_elementaire_formation.libelle
    scholarship: bool | None = None  # est_boursier
    scholarship_level: int | None = None  # echelon_bourse
    keys: tuple[str, ...] = ()  # the keys of ``data`` present (scopes mask the others)

    @property
    def school_year_start(self) -> int | None:
        if self.school_year and self.school_year[:4].isdigit():
            return int(self.school_year[:4])
        return None


@dataclass(frozen=True)
class CvecRecord:
    """API de contrôle de la CVEC, ``CertificateDto``. Source keys in brackets."""

    birth_name: str | None = None  # nom (nom de naissance)
    usage_name: str | None = None  # nomUsage
    first_name: str | None = None  # prenom
    sex: str | None = None  # sexe: "M"/"F" or "1"/"2", normalised to "M"/"F"
    birth_date: dt.date | None = None  # date_naissance or dateNaissance
    ine: str | None = None  # ine
    crous: str | None = None  # crous
    state_code: str | None = None  # etat.code, str(code).strip()
    state_label: str | None = None  # etat.libelle
    exemption_active: bool | None = None  # exoneration.active
    exemption_reason: str | None = None  # exoneration.motif
    campaign: str | None = None  # the campaign echoed, if any: campagne / annee / year, as text
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class CertificationRecord:
    """Certif Info certification detail, through a tolerant mapping of conflicting names."""

    certifinfo_id: str | None = None  # certifinfo_code / id
    title: str | None = None  # intitule / certifinfo_intitule
    level: int | None = None  # niveau_europeen (int or {code}) / niveau_europeen_code
    level_label: str | None = None  # niveau_europeen.libelle / niveau_europeen_libelle
    archived: bool | None = None  # archive / actif / etat_libelle / etat
    codes: tuple[str, ...] = ()  # RNCP and RS codes listed on the certification
    code_active: bool | None = None  # the declared RNCP/RS code's own ``actif`` flag
    matched_by: str = ""  # "id", "rncp" or "rs"
    # The latest end of registration of the declared code (rncp_historique[] /
    # date_fin_enregistrement), past or future; None when the answer gives none.
    registration_ended: dt.date | None = None
    candidates: int = 0  # search results that matched the code
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class CovoiturageRecord:
    """Registre de preuve de covoiturage certificate (bare or JSON-RPC ``result.data``)."""

    uuid: str | None = None
    type: str | None = None  # "ok" or "expired" (lower-cased)
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    operator_name: str | None = None
    keys: tuple[str, ...] = ()


Record = ScolariteRecord | CvecRecord | CertificationRecord | CovoiturageRecord


@dataclass(frozen=True)
class ProviderResult:
    """A definite answer from the source.

    ``found`` is False when the source says it does not know the identity or code (API
    Particulier 404 ``30003``, CVEC HTTP 400, covoiturage 404, Certif Info no match); ``data`` is
    then ``None``.
    """

    source: str
    found: bool
    data: Record | None
    call: CallInfo
    calls: tuple[CallInfo, ...] = ()

    def __post_init__(self) -> None:
        if not self.calls:
            object.__setattr__(self, "calls", (self.call,))


# --- The client ------------------------------------------------------------------------------


class Verifier[Q: Query](Protocol):
    """A provider module's ``verify``: one source's client, taking that source's query type
    (``Verifier[CvecQuery]`` is ``cvec.verify``)."""

    def __call__(
        self, session: requests.Session, query: Q, config: ProviderConfig, /
    ) -> ProviderResult: ...


def verifier_of[Q: Query](query_type: type[Q], verify: Verifier[Q]) -> Verifier[Query]:
    """``verify`` as a client of any query, for a table keyed by source (a value known at run
    time): a query of another source's type raises ``TypeError`` before anything is sent."""

    def checked(
        session: requests.Session, query: Query, config: ProviderConfig, /
    ) -> ProviderResult:
        if not isinstance(query, query_type):
            raise TypeError(f"{verify.__module__} takes a {query_type.__name__}")
        return verify(session, query, config)

    return checked


# --- Failures ---------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every provider failure. The message never contains personal data or URLs."""

    def __init__(
        self,
        message: str = "",
        *,
        call: CallInfo | None = None,
        source: str = "",
        calls: tuple[CallInfo, ...] = (),
    ) -> None:
        self.call = call if call is not None else CallInfo()
        self.calls = calls or (self.call,)
        self.source = source
        super().__init__(message or type(self).__name__)

    def __str__(self) -> str:
        status = self.call.http_status
        code = self.call.provider_error_code
        return (
            f"{self.source or 'provider'}: {self.args[0]}"
            f" (http {status if status is not None else '-'}, code {code or '-'})"
        )


class ProviderUnavailable(ProviderError):
    """The source could not answer now: retry later. ``retry_in`` is the source's own hint in
    seconds (API Particulier ``meta.retry_in``, or ``Retry-After`` on a 503), if any."""

    def __init__(self, message: str = "", *, retry_in: float | None = None, **kwargs: Any) -> None:
        self.retry_in = retry_in
        super().__init__(message, **kwargs)


class ProviderRateLimited(ProviderError):
    """Too many requests (``conflict=False``), or API Particulier's 409 00015 "the same request
    is already being processed for this token" (``conflict=True``). Wait ``retry_after``
    seconds."""

    def __init__(
        self, message: str = "", *, retry_after: float, conflict: bool = False, **kwargs: Any
    ) -> None:
        self.retry_after = retry_after
        self.conflict = conflict
        super().__init__(message, **kwargs)


class ProviderRejected(ProviderError):
    """The request itself is wrong or not allowed (token, rights, parameters): final.

    ``code`` is the source's error code ("00101", "-32602"...), ``http_<status>`` when the
    answer had none, or one of the ``vigie.*`` codes below when Vigie refused to send it.
    """

    def __init__(self, message: str = "", *, code: str, **kwargs: Any) -> None:
        self.code = code
        super().__init__(message, **kwargs)


class ProviderNotConfigured(ProviderError):
    """The source cannot be called with this configuration; nothing was sent. ``setting`` names
    what is missing or unusable: "base_url", "token", "recipient" or "version"."""

    def __init__(self, message: str = "", *, setting: str = "base_url", **kwargs: Any) -> None:
        self.setting = setting
        super().__init__(message, **kwargs)


# Codes of ``ProviderRejected`` raised before anything is sent.
INVALID_QUERY = "vigie.invalid_query"
# Codes of ``ProviderRejected`` for answers that are not the source's own error format.
UNEXPECTED_REDIRECT = "vigie.unexpected_redirect"
ROUTE_NOT_FOUND = "vigie.route_not_found"
