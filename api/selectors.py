"""Reads of the integration door, scoped to the user's institution."""

import base64
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import Http404

from admissions.infra.integers import id_or_404, parse_id
from admissions.models import Applicant, User
from admissions.selectors import applicant_get_for_user, applicants_for_user
from api.keys import key_matches, key_prefix
from api.models import ApiKey
from verifications.models import Claim
from verifications.selectors import (
    applicant_list_search,
    claim_get_for_user,
    claims_for_applicant,
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
