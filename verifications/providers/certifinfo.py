"""Certif Info (Réseau des Carif-Oref / Intercariforef).

``verify(session, query: CertificationQuery, config) -> ProviderResult`` with a
:class:`CertificationRecord`, or ``found=False`` when no certification has the code.

The documentation of this API is weak (docs/api/certifinfo.md: the official ``/docs`` could not
be read), so most of this module is the tolerant version of an unknown [?]:

* Auth: header ``token-connexion: <token>`` [I/V-3p]. One third-party README calls the API public
  [V-3p, conflicting], so an empty token is not an error here: the call is made without the
  header, and a 401/403 answer is rejected.
* Numeric Certif Info id: ``GET /certification?id=<id>`` [V-3p]; 404 = not found.
* RNCP or RS code: ``GET /recherche?rncp=RNCP12345`` (or ``?rs=RS1234``) [I: the catalogue lists
  these filters, a dedicated route was not found], then ``GET /certification?id=`` for the chosen
  result. Two upstream calls: ``ProviderResult.calls`` (and ``ProviderError.calls``) hold both.
  Search results that list codes not including the declared one are ignored; among the rest, an
  active one is preferred; the number of matches is kept in ``candidates``.
* Search envelope: a list, or an object with the list under ``data`` [V-3p] (also ``results``,
  ``items``, ``certifications``); detail: the object, possibly under ``data`` or as a one-item
  list.
* Field names disagree between the catalogue and a third-party client [V-3p]:
  ``intitule``/``certifinfo_intitule``; ``niveau_europeen`` as an int, ``{code, libelle}``,
  ``niveau_europeen_code`` or a label such as "Niveau 6"; status as ``archive`` (bool),
  ``actif``, or a label in ``etat_libelle``/``etat``; codes in ``rncp``/``rs`` (strings, lists of
  strings or of ``{code, libelle, actif}``), ``rncp_code``, ``rs_code``. All are read.
* Codes compare in their normalised form (``base.certification_code_key``: spaces, case and the
  zeros leading the number ignored), in the search filtering as in the declared code's ``actif``.
* End of registration: the catalogue names a ``rncp_historique`` field [V-3p: the name only];
  its items are read as ``{code, date_fin_enregistrement, actif}`` [?: the France compétences
  RNCP names], as a list of dicts, one dict, or a dict keyed by code, with dates as
  ``AAAA-MM-JJ`` or ``JJ/MM/AAAA``; a ``date_fin_enregistrement`` on the certification itself
  counts too. ``registration_ended`` is the latest date of the items for the declared code
  (every item when they name no code); ``None`` when there is none (docs/VERDICTS.md).
* Errors: body shape unknown [?]; the code is read from ``code``, ``error.code`` or
  ``errors[0].code`` when present. 400/401/403/422 (FastAPI validation [I]) rejected, 429
  rate-limited, 5xx unavailable.
"""

import dataclasses
import datetime as dt
import re
from typing import Any

import requests

from verifications.enums import Source
from verifications.names import fold_name
from verifications.providers import coerce, http
from verifications.providers.base import (
    INVALID_QUERY,
    CallInfo,
    CertificationQuery,
    CertificationRecord,
    ProviderConfig,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
    certification_code_key,
)


SOURCE = Source.CERTIFINFO
SEARCH_ROUTE = "/recherche"
DETAIL_ROUTE = "/certification"

_CODE_FORMS = (("rncp", re.compile(r"^RNCP\d+$")), ("rs", re.compile(r"^RS\d+$")))
_CERTIFINFO_ID = re.compile(r"^\d+$")
_LEVEL = re.compile(r"\b([1-8])\b")
_LIST_KEYS = ("data", "results", "items", "certifications", "resultats")
_ID_KEYS = ("certifinfo_code", "id", "code_certifinfo", "certifinfo_id")
_TITLE_KEYS = ("intitule", "certifinfo_intitule", "libelle", "intitule_certification")
# Status labels, compared after fold_name; "archived" words are checked first because
# "inactive" contains "active".
_ARCHIVED_WORDS = ("archiv", "inacti", "perime", "abroge", "caduc", "expire", "supprim", "ferme")
_ACTIVE_WORDS = ("actif", "active", "en vigueur", "valide", "enregistre", "ouvert")
_HISTORY_KEYS = ("rncp_historique", "historique_rncp", "historique")
_HISTORY_CODE_KEYS = ("code", "rncp", "code_rncp", "rncp_code", "numero_fiche")
_END_KEYS = ("date_fin_enregistrement", "date_fin")


def verify(
    session: requests.Session, query: CertificationQuery, config: ProviderConfig
) -> ProviderResult:
    if not config.configured:
        raise ProviderNotConfigured("no base URL", setting="base_url", source=SOURCE)
    kind, code = classify(query.code)
    headers = {"token-connexion": config.token} if config.token else {}
    if kind == "id":
        answer = _get(session, config, DETAIL_ROUTE, [("id", code)], headers)
        return _detail_result(answer, summary=None, matched_by="id", candidates=1, code=code)

    search = _get(session, config, SEARCH_ROUTE, [(kind, code)], headers)
    items = _search_items(search)
    matches = [item for item in items if _lists_code(item, code)]
    search_call = search.call_with(results=len(items), candidates=len(matches))
    if not matches:
        return ProviderResult(source=SOURCE, found=False, data=None, call=search_call)
    summaries = [parse_record(item, code=code) for item in matches]
    # Prefer an active one, then one of unknown status, then an archived one (stable order).
    summaries.sort(key=lambda record: {False: 0, None: 1, True: 2}[record.archived])
    summary = dataclasses.replace(summaries[0], matched_by=kind, candidates=len(matches))
    if summary.certifinfo_id is None:
        # Nothing to ask the detail for: the search result is all there is.
        return ProviderResult(source=SOURCE, found=True, data=summary, call=search_call)
    try:
        if config.admit_follow_up is not None:
            config.admit_follow_up()  # a second call: a second slot of the source's limits
        detail = _get(session, config, DETAIL_ROUTE, [("id", summary.certifinfo_id)], headers)
        return _detail_result(
            detail,
            summary=summary,
            matched_by=kind,
            candidates=len(matches),
            code=code,
            earlier=(search_call,),
        )
    except ProviderError as exc:
        exc.calls = (search_call, *exc.calls)
        raise


def classify(code: str) -> tuple[str, str]:
    """``("rncp" | "rs" | "id", normalised code)``; :class:`ProviderRejected` otherwise."""
    text = "".join((code or "").split()).upper()
    for kind, pattern in _CODE_FORMS:
        if pattern.match(text):
            return kind, text
    if _CERTIFINFO_ID.match(text):
        return "id", str(int(text))
    raise ProviderRejected("invalid query: code", code=INVALID_QUERY, source=SOURCE)


def _get(
    session: requests.Session,
    config: ProviderConfig,
    route: str,
    params: list[tuple[str, str]],
    headers: dict[str, str],
) -> http.Answer:
    return http.get(
        session, config, route, source=SOURCE, route=route, params=params, headers=headers
    )


def _search_items(answer: http.Answer) -> list[dict[str, Any]]:
    code = _error_code(answer.payload)
    if answer.status == 404:
        return []  # an empty search, tolerantly
    if answer.status != 200:
        http.raise_for_status(answer, source=SOURCE, code=code)
        raise ProviderUnavailable(
            f"unexpected status {answer.status}", call=answer.call_with(), source=SOURCE
        )
    payload = answer.payload
    if isinstance(payload, list):
        return [item for item in payload if isinstance(item, dict)]
    if isinstance(payload, dict):
        for key in _LIST_KEYS:
            if isinstance(payload.get(key), list):
                return [item for item in payload[key] if isinstance(item, dict)]
        if any(key in payload for key in _ID_KEYS):
            return [payload]
    raise ProviderUnavailable(
        "unexpected body", call=answer.call_with(body="unexpected"), source=SOURCE
    )


def _detail_result(
    answer: http.Answer,
    *,
    summary: CertificationRecord | None,
    matched_by: str,
    candidates: int,
    code: str,
    earlier: tuple[CallInfo, ...] = (),
) -> ProviderResult:
    error_code = _error_code(answer.payload)
    if answer.status == 404:
        call = answer.call_with(provider_error_code=error_code)
        return ProviderResult(
            source=SOURCE, found=False, data=None, call=call, calls=(*earlier, call)
        )
    if answer.status != 200:
        http.raise_for_status(answer, source=SOURCE, code=error_code)
        raise ProviderUnavailable(
            f"unexpected status {answer.status}", call=answer.call_with(), source=SOURCE
        )
    if not answer.is_json:
        raise ProviderUnavailable(
            "unexpected body", call=answer.call_with(body="unexpected"), source=SOURCE
        )
    item = _detail_item(answer.payload)
    call = answer.call_with()
    if item is None:
        return ProviderResult(
            source=SOURCE, found=False, data=None, call=call, calls=(*earlier, call)
        )
    record = parse_record(item, code=code)
    if summary is not None:
        record = _merge(record, summary)
    record = dataclasses.replace(record, matched_by=matched_by, candidates=candidates)
    return ProviderResult(source=SOURCE, found=True, data=record, call=call, calls=(*earlier, call))


def _detail_item(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict | list):
        payload = payload["data"]
    if isinstance(payload, list):
        payload = payload[0] if payload else None
    return payload if isinstance(payload, dict) and payload else None


def parse_record(item: dict[str, Any], *, code: str = "") -> CertificationRecord:
    """A record from a search result or a detail, whatever the field names (module docstring).
    ``code`` is the declared RNCP/RS code, whose own ``actif`` flag is read if listed."""
    level, level_label = _level(item)
    codes, code_active = _codes(item, code)
    return CertificationRecord(
        certifinfo_id=_first_str(item, _ID_KEYS),
        title=_first_str(item, _TITLE_KEYS),
        level=level,
        level_label=level_label,
        archived=_archived(item),
        codes=codes,
        code_active=code_active,
        registration_ended=_registration_ended(item, code),
        keys=tuple(sorted(item)),
    )


def _merge(detail: CertificationRecord, summary: CertificationRecord) -> CertificationRecord:
    """The detail, completed by the search result where the detail is silent."""
    filled = {
        f.name: getattr(summary, f.name)
        for f in dataclasses.fields(detail)
        if getattr(detail, f.name) in (None, (), "") and getattr(summary, f.name) not in (None, ())
    }
    filled["codes"] = tuple(sorted({*detail.codes, *summary.codes}))
    return dataclasses.replace(detail, **filled)


def _first_str(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = coerce.as_str(item.get(key))
        if value:
            return value
    return None


def _level(item: dict[str, Any]) -> tuple[int | None, str | None]:
    raw = item.get("niveau_europeen")
    label = coerce.as_str(item.get("niveau_europeen_libelle"))
    candidates: list[Any] = []
    if isinstance(raw, dict):
        candidates += [raw.get("code"), raw.get("libelle")]
        label = label or coerce.as_str(raw.get("libelle"))
    else:
        candidates.append(raw)
    candidates += [item.get("niveau_europeen_code"), label]
    for value in candidates:
        level = _level_number(value)
        if level is not None:
            return level, label
    return None, label


def _level_number(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    number = coerce.as_int(value)
    if number is not None:
        return number if 1 <= number <= 8 else None
    text = coerce.as_str(value)
    if not text:
        return None
    # "6", "NIV6", "Niveau 6 (…)" [?]: the first digit 1-8 standing on its own or after letters.
    match = _LEVEL.search(re.sub(r"(?<=[A-Za-z])(?=\d)", " ", text))
    return int(match.group(1)) if match else None


def _archived(item: dict[str, Any]) -> bool | None:
    for key in ("archive", "archivee", "est_archive"):
        value = coerce.as_bool(item.get(key))
        if value is not None:
            return value
    for key in ("actif", "active"):
        value = coerce.as_bool(item.get(key))
        if value is not None:
            return not value
    for key in ("etat_libelle", "etat"):
        raw = item.get(key)
        if isinstance(raw, dict):
            raw = raw.get("libelle") or raw.get("code")
        state = _state_from_text(coerce.as_str(raw))
        if state is not None:
            return state
    return None


def _state_from_text(text: str | None) -> bool | None:
    words = fold_name(text or "")
    if not words:
        return None
    if any(word in words for word in _ARCHIVED_WORDS):
        return True
    if any(word in words for word in _ACTIVE_WORDS):
        return False
    return None


def _codes(item: dict[str, Any], declared: str) -> tuple[tuple[str, ...], bool | None]:
    codes: set[str] = set()
    declared_active: bool | None = None
    for key, prefix in (
        ("rncp", "RNCP"),
        ("rncp_code", "RNCP"),
        ("rncp_codes", "RNCP"),
        ("rs", "RS"),
        ("rs_code", "RS"),
        ("rs_codes", "RS"),
    ):
        raw = item.get(key)
        for entry in raw if isinstance(raw, list) else [raw]:
            active = None
            if isinstance(entry, dict):
                active = coerce.as_bool(entry.get("actif"))
                entry = entry.get("code")
            text = "".join((coerce.as_str(entry) or "").split()).upper()
            if not text:
                continue
            if text.isdigit():
                text = prefix + text
            codes.add(text)
            if same_code(text, declared) and active is not None:
                declared_active = active
    return tuple(sorted(codes)), declared_active


def same_code(listed: str, declared: str) -> bool:
    """Two writings of one code ("RNCP012345" and "RNCP12345", spaces, case)."""
    return bool(declared) and certification_code_key(listed) == certification_code_key(declared)


def _lists_code(item: dict[str, Any], code: str) -> bool:
    """A search result matches unless it lists codes and the declared one is not among them
    (in any of its writings)."""
    codes, _ = _codes(item, code)
    return not codes or any(same_code(listed, code) for listed in codes)


def _registration_ended(item: dict[str, Any], declared: str) -> dt.date | None:
    """The latest ``date_fin_enregistrement`` of the declared code (module docstring). Items
    naming another code are skipped when an RNCP/RS code was declared (not for an id)."""
    entries: list[dict[str, Any]] = []
    for key in _HISTORY_KEYS:
        raw = item.get(key)
        if isinstance(raw, dict):
            if any(k in raw for k in (*_END_KEYS, *_HISTORY_CODE_KEYS)):
                raw = [raw]
            else:  # keyed by code: {"RNCP123": {...}}
                raw = [{"code": k, **v} for k, v in raw.items() if isinstance(v, dict)]
        if isinstance(raw, list):
            entries += [entry for entry in raw if isinstance(entry, dict)]
    by_code = declared[:1].isalpha()
    dates = [_end_date(item)]
    for entry in entries:
        listed = _history_code(entry)
        if by_code and listed and not same_code(listed, declared):
            continue
        dates.append(_end_date(entry))
    return max((d for d in dates if d is not None), default=None)


def _end_date(entry: dict[str, Any]) -> dt.date | None:
    for key in _END_KEYS:
        ended = coerce.as_date(entry.get(key))
        if ended is not None:
            return ended
    return None


def _history_code(entry: dict[str, Any]) -> str:
    for key in _HISTORY_CODE_KEYS:
        value = entry.get(key)
        if isinstance(value, dict):
            value = value.get("code")
        text = "".join((coerce.as_str(value) or "").split()).upper()
        if text:
            return text if not text.isdigit() else "RNCP" + text
    return ""


def _error_code(payload: Any) -> str:
    body = coerce.as_dict(payload)
    errors = body.get("errors")
    candidates = [body.get("code"), coerce.as_dict(body.get("error")).get("code")]
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        candidates.append(errors[0].get("code"))
    for value in candidates:
        text = coerce.as_str(value)
        if text:
            return text
    return ""
