"""The API's bodies, as pydantic models: the OpenAPI document is generated from them.

Input fields are typed loosely on purpose (text, numbers, lists of text): the domain's rules
(``admissions.identity.clean_identity``, ``admissions.claims.clean_declared``) decide what is
valid, with the same French messages as the forms and the import, so the API refuses exactly
what the pages refuse."""

from datetime import date, datetime
from typing import Any, Literal

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


# --- Verifications, results, batches, audit events --------------------------------------------

StateName = Literal["pending", "running", "done"]
TriggerName = Literal[
    "manual", "batch", "scheduled", "cli", "on_record", "manual_check", "override"
]
SourceName = Literal["api_particulier", "cvec", "certifinfo", "covoiturage"]


class DiffRow(Schema):
    field: str
    declared: Any = Field(description="Ce qui est déclaré.")
    source: Any = Field(description="Ce que dit la source.")
    match: bool


class ResultOut(Schema):
    """The outcome of a finished check. The raw evidence is not here: its digest is
    (``GET /verifications/{id}/evidence`` with the ``evidence`` scope)."""

    verdict: VerdictName
    reason_code: str = Field(description="Code stable du motif.")
    reason: str = Field(description="Le motif en une phrase, dans la langue demandée.")
    diff: list[DiffRow]
    caveats: list[str] = Field(description="Les réserves de la source sur ses données.")
    caveat_codes: list[str]
    checked_at: datetime | None
    valid_until: datetime | None = Field(
        description="Jusqu'à quand le verdict vaut, s'il est le verdict actuel de la déclaration."
    )
    current: bool = Field(
        description="Ce résultat donne-t-il le verdict actuel de la déclaration ?"
    )
    evidence_digest: str = Field(description="SHA-256 des éléments de preuve enregistrés.")
    evidence_purged_at: datetime | None


class VerificationOut(Schema):
    id: int
    claim_id: int
    applicant_id: int
    kind: KindName
    source: SourceName
    state: StateName
    trigger: TriggerName
    batch_id: int | None
    requested_at: datetime
    not_before: datetime | None = Field(
        description="Une vérification en attente ne partira pas avant (limites des sources)."
    )
    result: ResultOut | None = Field(description="null tant que la vérification n'est pas finie.")


class ApplicantVerifications(Schema):
    requested: int = Field(description="Vérifications nouvellement demandées.")
    verifications: list[VerificationOut] = Field(
        description="La vérification en cours de chaque déclaration."
    )


class EvidenceOut(Schema):
    verification_id: int
    evidence: dict[str, Any] | None = Field(description="null une fois les preuves purgées.")
    evidence_digest: str
    evidence_purged_at: datetime | None


class BatchCreate(Strict):
    label: str = Field("", max_length=200)
    claim_ids: list[int] = Field(default_factory=list, max_length=10000)
    applicant_ids: list[int] = Field(
        default_factory=list,
        max_length=10000,
        description="Toutes les déclarations de ces candidats.",
    )


class BatchOut(Schema):
    id: int
    label: str
    status: Literal["running", "paused", "done", "failed"]
    created_at: datetime
    finished_at: datetime | None
    total: int
    done: int
    pending: int
    running: int
    percent: int
    by_verdict: dict[str, int]


class BatchResults(Schema):
    items: list[VerificationOut]
    next_cursor: str | None


class AuditEventOut(Schema):
    seq: int = Field(description="Rang dans la chaîne de l'établissement.")
    created_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    applicant_id: int | None
    purpose: str
    ip: str | None
    details: dict[str, Any]
    hash: str
    prev_hash: str


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None
