"""API de contrôle de la CVEC (CNOUS): ``GET /api/attestation/{code}?etudiant=NOM5E``.

Open API (no token). Note the service's own status mapping (docs/api/cvec.md §Errors): an unknown
attestation is HTTP **400** ``{code, message}``, a missing code HTTP **404**. The ``etudiant``
parameter must be the first five letters A–Z of the holder's birth name, upper case ("-" when
there is none); with ``cvec_etudiant_strict`` (default) anything else, or no ``etudiant`` at
all, is "not found", as with the 2022 API where code and name formed one key [guessed]. No
limit is documented; ``cvec_limit`` adds one for tests.
"""

from typing import Any
from urllib.parse import unquote

from sandbox import scenarios
from sandbox.httpkit import Request, Response, json_response
from sandbox.limits import Rule
from sandbox.people import person_for_cvec_code
from sandbox.population import CvecOutcome, Person, cvec_name_key
from sandbox.state import Context


_PREFIX = "/api/attestation"
# Labels of the valid states are the catalogue's (docs/api/cvec.md §Validity); the others are
# [guessed].
LIBELLES = {
    "70": "Attestation valide",
    "71": "Attestation valide, boursier",
    "73": "Attestation valide, après exonération",
    "75": "Attestation valide, payé",
    "76": "Attestation valide, payé par un tiers",
    "98": "Attestation valide remboursée",
    "10": "Attestation en attente de paiement",
    "20": "Attestation annulée",
    "60": "Paiement refusé",
}
_EXONERATIONS = {
    "71": {"active": True, "motif": "Étudiant boursier"},
    "73": {"active": True, "motif": "Réfugié ou bénéficiaire de la protection subsidiaire"},
}


def _error(status: int, message: str, **extra: Any) -> Response:
    # CertificateErrorDto {code: string, message: string}; the code's value is [guessed].
    return json_response(status, {"code": str(status), "message": message}, **extra)


def not_found() -> Response:
    return _error(400, "L'attestation n'a pas été trouvée.")


def missing_code() -> Response:
    return _error(404, "Le paramètre code est manquant.")


def etudiant_matches(given: str | None, birth_name: str, *, strict: bool) -> bool:
    expected = cvec_name_key(birth_name)
    if given is None:
        return not strict
    if strict:
        return given == expected
    return cvec_name_key(given) == expected


def person_document(p: Person) -> dict[str, Any]:
    """The CertificateDto for person ``p`` (CVEC-2024 keys). Half the population gets ``sexe``
    as "M"/"F" and the other half as "1"/"2": the catalogue documents both [guessed]."""
    sexe = ("1" if p.sex == "M" else "2") if p.index % 2 else p.sex
    return {
        "nom": p.birth_name,
        "nomUsage": p.usage_name,
        "prenom": p.first_names[0],
        "sexe": sexe,
        "date_naissance": p.cvec_holder_birth_date.strftime("%d/%m/%Y"),
        "ine": p.ine,
        "crous": p.crous,
        "etat": {"code": p.cvec_state, "libelle": LIBELLES.get(p.cvec_state, "")},
        "exoneration": _EXONERATIONS.get(p.cvec_state, {"active": False, "motif": ""}),
    }


class Cvec:
    name = "cvec"
    bans = False
    outage_upstream = False

    def endpoint_of(self, method: str, path: str) -> str:
        if method in ("GET", "HEAD") and (path == _PREFIX or path.startswith(_PREFIX + "/")):
            return "attestation"
        return "unknown"

    def token_label(self, req: Request) -> str | None:
        return None

    def outage_response(self, ctx: Context) -> Response:
        # What a reverse proxy in front of a stopped service sends [guessed].
        return Response(503, b"Service Unavailable", content_type="text/plain; charset=utf-8")

    def handle(self, ctx: Context) -> Response:
        if ctx.endpoint != "attestation":
            return _error(404, "Not Found")
        knobs = ctx.knobs
        rule = Rule(("cvec", ctx.request.client), knobs.cvec_limit, knobs.cvec_window)
        refused, _ = ctx.limit([rule])
        if refused:
            return _error(
                429, "Too Many Requests", headers=[("Retry-After", str(refused.retry_after))]
            )
        code = unquote(ctx.request.path[len(_PREFIX) :].strip("/"))
        if not code:
            return missing_code()
        fault = ctx.simulate_upstream()
        if fault:
            status = int(fault.partition("/")[0])
            return _error(status, "Erreur interne du service")  # [guessed]
        return self.answer(ctx, code.upper())

    def answer(self, ctx: Context, code: str) -> Response:
        etudiant = ctx.request.arg("etudiant")
        strict = ctx.knobs.cvec_etudiant_strict
        for case in scenarios.load("cvec", "attestation"):
            if str(case.params.get("code", "")).upper() != code:
                continue
            if etudiant_matches(etudiant, str(case.params.get("nom", "")), strict=strict):
                return Response(case.status, case.payload.encode())
            return not_found()
        found = person_for_cvec_code(code)
        if found is None or found.cvec == CvecOutcome.UNKNOWN:
            return not_found()
        if not etudiant_matches(etudiant, found.birth_name, strict=strict):
            return not_found()
        year = ctx.request.arg("year")
        if year and year.strip() != str(found.cvec_campaign):
            return not_found()  # another campaign [guessed]
        return json_response(200, person_document(found))
