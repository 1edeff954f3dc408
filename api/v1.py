"""``/api/v1/``: the integration API's operations. Each handler parses nothing itself (ninja
and the schemas do), calls one selector or service, and returns what it got; the services are
the pages' own, so every write is validated and audited exactly as the pages' are.

Resources: applicants (create, read, update, list) and their claims (create, read, update),
here; checks, their results and evidence, batches and the audit trail in ``api/checks.py``.
Each operation declares its scope (``api/operations.py``).
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from admissions import services
from admissions.audit import audit_view_record
from admissions.infra.client_address import client_ip
from admissions.models import Applicant, User
from api import selectors
from api.checks import checks
from api.operations import API_READ_PURPOSE, ERRORS, READ, WRITE, acting_user
from api.problems import ApiProblem, install_handlers, invalid
from api.schemas import (
    ApplicantCreate,
    ApplicantOut,
    ApplicantPage,
    ApplicantUpdate,
    ClaimCreate,
    ClaimOut,
    ClaimUpdate,
    KindName,
)
from verifications.models import Claim
from verifications.services import claims as claim_services


class VigieApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """ninja's document, plus what the middleware does around the operations: errors
        are ``application/problem+json``, writes take an ``Idempotency-Key``."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
                if method in {"post", "put", "patch"}:
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
        return schema


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Rejouer une écriture sans risque : la même clé et le même corps rendent la première "
        "réponse (24 h) ; la même clé avec un autre corps est refusée (409)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

api = VigieApi(
    title="Vigie",
    version="1",
    description=(
        "L'API d'intégration de Vigie : candidats, déclarations, vérifications, lots et journal. "
        "Authentification : "
        "« Authorization: Bearer vgk_… » (clé créée dans les paramètres de l'établissement). "
        "Erreurs : application/problem+json (RFC 9457), en français ou en anglais selon "
        "Accept-Language."
    ),
    urls_namespace="api-v1",
    docs_url=None,  # the reference page is ours (api/views.py): the CSP's rules
    openapi_url="/openapi.json",
)
install_handlers(api)

applicants = Router(tags=["applicants"])


def _out(applicant: Applicant) -> ApplicantOut:
    return ApplicantOut.model_validate(
        {
            **{f: getattr(applicant, f) for f in ApplicantOut.model_fields if f != "claims"},
            "claims": [
                {"id": c.pk, "kind": c.kind, "verdict": c.verdict} for c in applicant.claims.all()
            ],
        }
    )


def _viewed(request: HttpRequest, applicant: Applicant) -> None:
    """A read of personal data, recorded as the pages record theirs (once per key, applicant
    and purpose within the consultation window)."""
    user = acting_user(request)
    audit_view_record(
        actor=user,
        institution=user.institution,
        obj=applicant,
        applicant_id=applicant.pk,
        purpose=API_READ_PURPOSE,
        ip=client_ip(request),
    )


def _fresh(user: User, applicant: Applicant) -> Applicant:
    """The applicant as stored now, claims included (after a write)."""
    return selectors.applicant_get(user=user, applicant_id=str(applicant.pk))


class ApplicantFilters(Schema):
    file_reference: str = Field("", max_length=64)
    verdict: str = Field("", max_length=20, description="Un verdict, ou « unchecked ».")
    kind: KindName | None = None
    updated_since: datetime | None = None
    cursor: str = Field("", max_length=200)
    limit: int = Field(50, ge=1, le=100)


@applicants.get("", response={200: ApplicantPage, **ERRORS}, auth=READ, url_name="applicants")
def applicant_list(request: HttpRequest, filters: Query[ApplicantFilters]) -> Any:
    cursor = None
    if filters.cursor:
        cursor = selectors.Cursor.decode(filters.cursor)
        if cursor is None:
            raise ApiProblem(422, _("Ce curseur n'est pas valide : reprenez à la première page."))
    page = selectors.applicant_page(
        user=acting_user(request),
        file_reference=filters.file_reference,
        verdict=filters.verdict,
        kind=filters.kind or "",
        updated_since=filters.updated_since,
        cursor=cursor,
        limit=filters.limit,
    )
    return {"items": [_out(a) for a in page.items], "next_cursor": page.next_cursor}


@applicants.post("", response={201: ApplicantOut, **ERRORS}, auth=WRITE, url_name="applicants")
def applicant_create(request: HttpRequest, payload: ApplicantCreate, response: HttpResponse) -> Any:
    user = acting_user(request)
    applicant = services.applicant_create(
        acting_user=user, identity=payload.model_dump(), ip=client_ip(request)
    )
    response["Location"] = reverse("api-v1:applicant", args=[applicant.pk])
    return Status(201, _out(_fresh(user, applicant)))


@applicants.get(
    "/by-reference/{file_reference}",
    response={200: ApplicantOut, **ERRORS},
    auth=READ,
    url_name="applicant_by_reference",
)
def applicant_by_reference(request: HttpRequest, file_reference: str) -> Any:
    applicant = selectors.applicant_get_by_reference(
        user=acting_user(request), file_reference=file_reference
    )
    _viewed(request, applicant)
    return _out(applicant)


@applicants.get(
    "/{applicant_id}", response={200: ApplicantOut, **ERRORS}, auth=READ, url_name="applicant"
)
def applicant_read(request: HttpRequest, applicant_id: str) -> Any:
    applicant = selectors.applicant_get(user=acting_user(request), applicant_id=applicant_id)
    _viewed(request, applicant)
    return _out(applicant)


@applicants.patch(
    "/{applicant_id}", response={200: ApplicantOut, **ERRORS}, auth=WRITE, url_name="applicant"
)
def applicant_update(request: HttpRequest, applicant_id: str, payload: ApplicantUpdate) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    services.applicant_update(
        acting_user=user,
        applicant=applicant,
        changes=payload.model_dump(exclude_unset=True),
        ip=client_ip(request),
    )
    return _out(_fresh(user, applicant))


@applicants.patch(
    "/by-reference/{file_reference}",
    response={200: ApplicantOut, **ERRORS},
    auth=WRITE,
    url_name="applicant_by_reference",
)
def applicant_update_by_reference(
    request: HttpRequest, file_reference: str, payload: ApplicantUpdate
) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get_by_reference(user=user, file_reference=file_reference)
    services.applicant_update(
        acting_user=user,
        applicant=applicant,
        changes=payload.model_dump(exclude_unset=True),
        ip=client_ip(request),
    )
    return _out(_fresh(user, applicant))


def _claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut.model_validate(claim, from_attributes=True)


@applicants.get(
    "/{applicant_id}/claims",
    response={200: list[ClaimOut], **ERRORS},
    auth=READ,
    url_name="applicant_claims",
)
def claim_list(request: HttpRequest, applicant_id: str) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    _viewed(request, applicant)
    return [_claim_out(c) for c in selectors.applicant_claims(user=user, applicant=applicant)]


@applicants.post(
    "/{applicant_id}/claims",
    response={201: ClaimOut, **ERRORS},
    auth=WRITE,
    url_name="applicant_claims",
)
def claim_create(
    request: HttpRequest, applicant_id: str, payload: ClaimCreate, response: HttpResponse
) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    try:
        claim = claim_services.claim_create(
            acting_user=user,
            applicant=applicant,
            kind=payload.kind,
            declared=_present(payload.declared),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        raise invalid(exc, prefix="declared") from exc
    response["Location"] = reverse("api-v1:claim", args=[applicant.pk, claim.pk])
    return Status(201, _claim_out(claim))


@applicants.get(
    "/{applicant_id}/claims/{claim_id}",
    response={200: ClaimOut, **ERRORS},
    auth=READ,
    url_name="claim",
)
def claim_read(request: HttpRequest, applicant_id: str, claim_id: str) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    claim = selectors.claim_get(user=user, applicant=applicant, claim_id=claim_id)
    _viewed(request, applicant)
    return _claim_out(claim)


@applicants.patch(
    "/{applicant_id}/claims/{claim_id}",
    response={200: ClaimOut, **ERRORS},
    auth=WRITE,
    url_name="claim",
)
def claim_update(
    request: HttpRequest, applicant_id: str, claim_id: str, payload: ClaimUpdate
) -> Any:
    user = acting_user(request)
    applicant = selectors.applicant_get(user=user, applicant_id=applicant_id)
    claim = selectors.claim_get(user=user, applicant=applicant, claim_id=claim_id)
    try:
        claim = claim_services.claim_update_declared(
            acting_user=user,
            claim=claim,
            declared=_present(payload.declared),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        raise invalid(exc, prefix="declared") from exc
    return _claim_out(claim)


def _present(declared: dict[str, Any]) -> dict[str, Any]:
    """Declared fields as the claim form hands them over: an empty or null value is not
    given (``ClaimForm.declared``)."""
    return {k: v for k, v in declared.items() if v not in (None, "")}


api.add_router("/applicants", applicants)
api.add_router("", checks)
