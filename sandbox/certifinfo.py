"""Certif Info (Réseau des Carif-Oref): ``GET /recherche`` and ``GET /certification?id=``.

Its documentation is thin (docs/api/certifinfo.md): the header ``token-connexion`` and the field
names come from third-party clients [V-3p]; the pagination envelope (``data``,
``totalResult``, ``previous``/``next``), the 401/404/422 bodies (FastAPI's ``{"detail": ...}``)
and the default page size are [guessed]. The catalogue is ``population.CERTIFICATIONS`` (active
and archived certifications at levels 3 to 7) plus the cases under ``scenarios/certifinfo``.
An archived RNCP certification's detail carries ``rncp_historique`` items ``{code,
date_fin_enregistrement, actif}`` [guessed: the catalogue names the field, not its items], so the
demo shows an archived fiche confirmed with its end of registration.
"""

from typing import Any
from urllib.parse import urlencode

from sandbox import scenarios
from sandbox.httpkit import Request, Response, json_response
from sandbox.limits import Rule
from sandbox.population import CERTIFICATIONS, Certification, fold
from sandbox.state import Context


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10  # [guessed]
_ROUTES = {"/recherche": "recherche", "/certification": "certification"}
_CERTIFIERS = {
    3: "Ministère de l'Éducation nationale",
    4: "Ministère de l'Éducation nationale",
    5: "Ministère de l'Enseignement supérieur et de la Recherche",
    6: "Ministère de l'Enseignement supérieur et de la Recherche",
    7: "Ministère de l'Enseignement supérieur et de la Recherche",
}


def _detail(status: int, detail: Any, **extra: Any) -> Response:
    return json_response(status, {"detail": detail}, **extra)


def _invalid(parameter: str, message: str) -> Response:
    # FastAPI's validation error body [guessed: the service looks like FastAPI].
    return _detail(422, [{"loc": ["query", parameter], "msg": message, "type": "value_error"}])


def summary(c: Certification) -> dict[str, Any]:
    return {
        "certifinfo_code": c.certifinfo_id,
        "certifinfo_intitule": c.title,
        "niveau_europeen_code": c.level,
        "rncp_code": c.rncp or None,
        "rs_code": [c.rs] if c.rs else [],
        "archive": c.archived,
    }


def detail(c: Certification) -> dict[str, Any]:
    active = not c.archived
    return {
        "certifinfo_code": c.certifinfo_id,
        "certifinfo_intitule": c.title,
        "niveau_europeen_code": c.level,
        "niveau_europeen_libelle": f"Niveau {c.level}",
        "etat_libelle": "Active" if active else "Archivée",
        "archive": c.archived,
        "rncp": [{"code": c.rncp, "libelle": c.title, "actif": active}] if c.rncp else [],
        "rs": [{"code": c.rs, "libelle": c.title, "actif": active}] if c.rs else [],
        "rncp_historique": (
            [
                {
                    "code": c.rncp,
                    "date_fin_enregistrement": c.registration_ended.strftime("%d/%m/%Y"),
                    "actif": active,
                }
            ]
            if c.rncp and c.registration_ended
            else []
        ),
        "rome": [],
        "nsf": [],
        "certificateurs": [{"libelle": _CERTIFIERS.get(c.level, "Organisme certificateur")}],
        "acc_fi": True,
        "acc_fc": True,
        "acc_ca": c.level <= 6,
        "acc_cp": c.level <= 5,
        "acc_vae": True,
        "acc_ind": False,
        "objectif": "",
        "programme": "",
        "admission": "",
        "poursuite": "",
        "debouches": "",
    }


def _bool(value: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())


def _int(req: Request, name: str, default: int | None) -> int | Response | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit():
        return _invalid(name, "value is not a valid integer")
    return int(raw)


class CertifInfo:
    name = "certifinfo"
    bans = False
    outage_upstream = False

    def endpoint_of(self, method: str, path: str) -> str:
        if method not in ("GET", "HEAD"):
            return "unknown"
        return _ROUTES.get(path.rstrip("/"), "unknown")

    def token_label(self, req: Request) -> str | None:
        return None

    def outage_response(self, ctx: Context) -> Response:
        return _detail(503, "Service Unavailable")  # [guessed]

    def handle(self, ctx: Context) -> Response:
        if ctx.endpoint == "unknown":
            return _detail(404, "Not Found")
        if ctx.request.header("token-connexion") not in ctx.knobs.certifinfo_tokens:
            return _detail(401, "Token de connexion invalide ou manquant")  # [guessed]
        knobs = ctx.knobs
        rule = Rule(
            ("certifinfo", ctx.request.client), knobs.certifinfo_limit, knobs.certifinfo_window
        )
        refused, _ = ctx.limit([rule])
        if refused:
            return _detail(
                429, "Too Many Requests", headers=[("Retry-After", str(refused.retry_after))]
            )
        for case in scenarios.load("certifinfo", ctx.endpoint):
            if all(ctx.request.arg(k) == str(v) for k, v in case.params.items()):
                fault = ctx.simulate_upstream()
                if fault:
                    return _detail(int(fault.partition("/")[0]), "Internal Server Error")
                return Response(case.status, case.payload.encode())
        if ctx.endpoint == "certification":
            return self._certification(ctx)
        return self._recherche(ctx)

    def _certification(self, ctx: Context) -> Response:
        raw = (ctx.request.arg("id") or "").strip()
        if not raw:
            return _invalid("id", "field required")
        if not raw.isdigit():
            return _invalid("id", "value is not a valid integer")
        fault = ctx.simulate_upstream()
        if fault:
            return _detail(int(fault.partition("/")[0]), "Internal Server Error")
        for c in CERTIFICATIONS:
            if c.certifinfo_id == int(raw):
                return json_response(200, detail(c))
        return _detail(404, "Not Found")

    def _recherche(self, ctx: Context) -> Response:
        req = ctx.request
        page_num = _int(req, "page_num", 1)
        page_size = _int(req, "page_size", DEFAULT_PAGE_SIZE)
        level = _int(req, "niveau_europeen", None)
        cert_id = _int(req, "id", None)
        for value in (page_num, page_size, level, cert_id):
            if isinstance(value, Response):
                return value
        if not isinstance(page_num, int) or not isinstance(page_size, int):
            raise TypeError("page_num and page_size default to integers")
        if page_num < 1:
            return _invalid("page_num", "ensure this value is greater than or equal to 1")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return _invalid("page_size", f"ensure this value is between 1 and {MAX_PAGE_SIZE}")
        archive = req.arg("archive")
        archived = None if archive is None else _bool(archive)
        if archive is not None and archived is None:
            return _invalid("archive", "value could not be parsed to a boolean")
        fault = ctx.simulate_upstream()
        if fault:
            return _detail(int(fault.partition("/")[0]), "Internal Server Error")
        intitule = fold(req.arg("intitule") or "")
        rncp = (req.arg("rncp") or "").strip().upper()
        rs = (req.arg("rs") or "").strip().upper()
        found = [
            c
            for c in CERTIFICATIONS
            if (not intitule or intitule in fold(c.title))
            and (not rncp or c.rncp == rncp)
            and (not rs or c.rs == rs)
            and (level is None or c.level == level)
            and (cert_id is None or c.certifinfo_id == cert_id)
            and (archived is None or c.archived == archived)
        ]
        start = (page_num - 1) * page_size
        page = found[start : start + page_size]

        def link(number: int) -> str:
            params = {k: v[0] for k, v in req.query.items()}
            params.update(page_num=str(number), page_size=str(page_size))
            return f"{req.environ.get('SCRIPT_NAME', '')}/certifinfo/recherche?{urlencode(params)}"

        return json_response(
            200,
            {
                "data": [summary(c) for c in page],
                "totalResult": len(found),
                "page_num": page_num,
                "page_size": page_size,
                "previous": link(page_num - 1) if page_num > 1 and found else None,
                "next": link(page_num + 1) if start + page_size < len(found) else None,
            },
        )
