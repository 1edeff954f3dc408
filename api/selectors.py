"""Reads of the integration door, scoped to the user's institution."""

import base64
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from admissions.infra.integers import id_or_404, parse_id
from admissions.models import Applicant, AuditEvent, User
from admissions.selectors import (
    applicant_get_for_user,
    applicants_for_user,
    audit_events_for_user,
)
from api.keys import key_matches, key_prefix
from api.models import ApiKey
from verifications.enums import OPEN_STATES, BatchKind, RequestState
from verifications.models import Batch, Claim, VerificationRequest
from verifications.selectors import (
    applicant_list_search,
    batches_for_user,
    claim_get_for_user,
    claims_for_applicant,
    claims_for_user,
    requests_for_user,
)


def api_keys_for_user(user: User) -> QuerySet[ApiKey]:
    if user.institution_id is None or not user.is_institution_admin:
        return ApiKey.objects.none()
    return (
        ApiKey.objects.filter(institution_id=user.institution_id)
        .select_related("created_by", "revoked_by")
        .order_by("-created_at", "-id")
    )


def api_key_get_for_user(*, user: User, key_id: int) -> ApiKey:
    key = api_keys_for_user(user).filter(pk=key_id).first()
    if key is None:
        raise Http404
    return key


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The key a request presents, whatever its state (the caller checks expiry and
    revocation); None for a malformed or unknown key, or a wrong secret."""
    prefix = key_prefix(secret)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("user", "institution").filter(prefix=prefix).first()
    if key is None or not key_matches(secret, key.secret_hash):
        return None
    return key


# --- Applicants, as the API pages them --------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page of applicants ends: the last row's (updated_at, id). Rows are listed in
    that order, ascending, so a row inserted or changed while a client pages comes after every
    row it has seen (its updated_at is later): nothing is skipped, and a changed row is listed
    again, which is what a client syncing "updated since" wants."""

    updated_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.updated_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> "Cursor | None":
        try:
            text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            stamp, _sep, pk = text.partition("|")
            updated_at = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        pk_value = parse_id(pk)
        if pk_value is None or updated_at.tzinfo is None:
            return None
        return cls(updated_at=updated_at, id=pk_value)


@dataclass(frozen=True)
class ApplicantPage:
    items: list[Applicant]
    next_cursor: str | None


def applicant_page(
    *,
    user: User,
    file_reference: str = "",
    verdict: str = "",
    kind: str = "",
    updated_since: datetime | None = None,
    cursor: Cursor | None = None,
    limit: int = 50,
) -> ApplicantPage:
    applicants = applicant_list_search(
        user=user, verdict=verdict, kind=kind, order_by=("updated_at", "id")
    )
    if file_reference:
        applicants = applicants.filter(file_reference=file_reference)
    if updated_since is not None:
        applicants = applicants.filter(updated_at__gte=updated_since)
    if cursor is not None:
        applicants = applicants.filter(
            Q(updated_at__gt=cursor.updated_at) | Q(updated_at=cursor.updated_at, id__gt=cursor.id)
        )
    rows = list(applicants[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = Cursor(rows[-1].updated_at, rows[-1].pk).encode() if more else None
    return ApplicantPage(items=rows, next_cursor=next_cursor)


def applicant_get(*, user: User, applicant_id: str) -> Applicant:
    """An applicant of the user's institution by id; 404 for another's as for none."""
    return applicant_get_for_user(user=user, applicant_id=id_or_404(applicant_id))


def applicant_get_by_reference(*, user: User, file_reference: str) -> Applicant:
    found = applicants_for_user(user).filter(file_reference=file_reference).first()
    if found is None:
        raise Http404
    return found


def applicant_claims(*, user: User, applicant: Applicant) -> list[Claim]:
    return list(claims_for_applicant(user=user, applicant=applicant))


def claim_get(*, user: User, applicant: Applicant, claim_id: str) -> Claim:
    """A claim of this applicant (of the user's institution); 404 otherwise."""
    claim = claim_get_for_user(user=user, claim_id=id_or_404(claim_id))
    if claim.applicant_id != applicant.pk:
        raise Http404
    return claim


# --- Verifications, batches and the audit trail, as the API reads them ------------------------


def id_cursor_encode(value: int) -> str:
    return base64.urlsafe_b64encode(f"n|{value}".encode()).decode().rstrip("=")


def id_cursor_decode(raw: str) -> int | None:
    """The position an opaque cursor of ``id_cursor_encode`` names; None if it is not one."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except ValueError:
        return None
    tag, _sep, value = text.partition("|")
    return parse_id(value) if tag == "n" else None


def _verifications(user: User) -> QuerySet[VerificationRequest]:
    """The institution's checks, each with its claim and the id of its claim's latest
    finished check (what ``api.results`` needs to say whether it is the current one)."""
    latest = (
        VerificationRequest.objects.filter(
            claim_id=OuterRef("claim_id"), state=RequestState.DONE, variant_key=""
        )
        .order_by("-finished_at", "-id")
        .values("id")[:1]
    )
    return requests_for_user(user).select_related("claim").annotate(latest_done_id=Subquery(latest))


def verification_get(*, user: User, verification_id: str) -> VerificationRequest:
    found = _verifications(user).filter(pk=id_or_404(verification_id)).first()
    if found is None:
        raise Http404
    return found


def claim_verifications(*, user: User, claim: Claim, limit: int = 100) -> list[VerificationRequest]:
    """The claim's checks, newest first (at most ``limit``)."""
    return list(_verifications(user).filter(claim=claim).order_by("-created_at", "-id")[:limit])


def applicant_open_verifications(*, user: User, applicant: Applicant) -> list[VerificationRequest]:
    """The check under way of each of the applicant's claims."""
    return list(
        _verifications(user)
        .filter(claim__applicant=applicant, state__in=OPEN_STATES, variant_key="")
        .order_by("claim_id")
    )


def verification_batch_get(*, user: User, batch_id: str) -> Batch:
    """A verification batch of the user's institution; 404 for anything else."""
    found = (
        batches_for_user(user).filter(pk=id_or_404(batch_id), kind=BatchKind.VERIFICATION).first()
    )
    if found is None:
        raise Http404
    return found


@dataclass(frozen=True)
class Chosen:
    claims: list[Claim]
    # Ids asked for that name nothing of the institution (unknown, or another's: the same).
    unknown_claims: list[int]
    unknown_applicants: list[int]


def claims_chosen(*, user: User, claim_ids: list[int], applicant_ids: list[int]) -> Chosen:
    """The claims a batch asked through the API names: by id, and all those of applicants."""
    claims = claims_for_user(user).select_related("institution")
    by_id = {c.pk: c for c in claims.filter(pk__in=claim_ids)}
    known_applicants = set(
        applicants_for_user(user).filter(pk__in=applicant_ids).values_list("pk", flat=True)
    )
    for claim in claims.filter(applicant_id__in=known_applicants):
        by_id.setdefault(claim.pk, claim)
    return Chosen(
        claims=[by_id[pk] for pk in sorted(by_id)],
        unknown_claims=[pk for pk in claim_ids if pk not in by_id],
        unknown_applicants=[pk for pk in applicant_ids if pk not in known_applicants],
    )


@dataclass(frozen=True)
class RequestPage:
    items: list[VerificationRequest]
    next_cursor: str | None


def batch_results_page(
    *, user: User, batch: Batch, cursor: int | None, limit: int = 50
) -> RequestPage:
    """The batch's current check of each claim, by id, ``limit`` at a time."""
    rows = _verifications(user).filter(batch=batch, superseded=False).order_by("id")
    if cursor is not None:
        rows = rows.filter(id__gt=cursor)
    found = list(rows[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return RequestPage(found, id_cursor_encode(found[-1].pk) if more else None)


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEvent]
    next_cursor: str | None


def audit_events_page(
    *,
    user: User,
    cursor: int | None,
    action: str = "",
    applicant_id: int | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> AuditPage:
    """The institution's audit events in the chain's order (oldest first), after ``cursor``
    (a ``seq``): a client that keeps the last cursor reads each new event once."""
    events = audit_events_for_user(user).order_by("seq")
    if action:
        events = events.filter(action=action)
    if applicant_id is not None:
        events = events.filter(applicant_id=applicant_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if cursor is not None:
        events = events.filter(seq__gt=cursor)
    found = list(events.select_related("actor")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return AuditPage(found, id_cursor_encode(found[-1].seq) if more else None)
