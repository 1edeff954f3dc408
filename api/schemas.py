"""The API's bodies, as pydantic models: the OpenAPI document is generated from them.

Input fields are typed loosely on purpose (text, numbers, lists of text): the domain's rules
(``admissions.identity.clean_identity``, ``admissions.claims.clean_declared``) decide what is
valid, with the same French messages as the forms and the import, so the API refuses exactly
what the pages refuse."""

from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field


KindName = Literal["scolarite", "cvec", "certification", "covoiturage"]
VerdictName = Literal[
    "", "confirmed", "contradicted", "mismatch", "not_found", "unavailable", "rejected", "manual"
]
DeclaredValue = str | int | None


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ApplicantCreate(Strict):
    file_reference: str = Field(max_length=200, description="La référence du dossier.")
    birth_name: str = Field(max_length=400)
    usage_name: str = Field("", max_length=400)
    first_names: list[str] = Field(
        max_length=10, description="1 à 3 prénoms, dans l'ordre de l'état civil."
    )
    sex: str = Field(max_length=10, description="« F » ou « M ».")
    birth_date: str = Field(max_length=40, description="AAAA-MM-JJ (ou JJ/MM/AAAA).")
    ine: str = Field("", max_length=40)
    email: str = Field("", max_length=400)
    phone: str = Field("", max_length=100)


class ApplicantUpdate(Strict):
    """Only the fields sent are changed."""

    file_reference: str | None = Field(None, max_length=200)
    birth_name: str | None = Field(None, max_length=400)
    usage_name: str | None = Field(None, max_length=400)
    first_names: list[str] | None = Field(None, max_length=10)
    sex: str | None = Field(None, max_length=10)
    birth_date: str | None = Field(None, max_length=40)
    ine: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=400)
    phone: str | None = Field(None, max_length=100)


class ClaimSummary(Schema):
    id: int
    kind: KindName
    verdict: VerdictName


class ApplicantOut(Schema):
    id: int
    file_reference: str
    birth_name: str
    usage_name: str
    first_names: list[str]
    sex: Literal["F", "M"]
    birth_date: date
    ine: str
    email: str
    phone: str
    created_at: datetime
    updated_at: datetime
    claims: list[ClaimSummary]


class ApplicantPage(Schema):
    items: list[ApplicantOut]
    next_cursor: str | None = Field(
        description="À passer en « cursor » pour la page suivante ; null à la dernière page."
    )


class ClaimCreate(Strict):
    kind: KindName
    declared: dict[str, DeclaredValue] = Field(
        description=(
            "Selon le type : scolarite {uai, school_year} ; cvec {code, campaign?} ; "
            "certification {code, min_level?} ; covoiturage {uuid}."
        )
    )


class ClaimUpdate(Strict):
    declared: dict[str, DeclaredValue]


class ClaimOut(Schema):
    id: int
    applicant_id: int
    kind: KindName
    declared: dict[str, DeclaredValue]
    verdict: VerdictName
    verdict_reason: str
    verified_at: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class Problem(Schema):
    """An error, as RFC 9457 describes it."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, str]] | None = None
