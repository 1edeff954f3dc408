"""Reads of the applicant domain, scoped to the user's institution. Claims and batches, and the
applicant list's filters on them, are read by ``verifications.selectors``.

Views never query models directly: they call these. Every queryset starts from
``_institution_id(user)``; a user without an institution (back-office staff in the clerk
interface) sees nothing, and an id of another institution answers 404.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.identity import search_key
from admissions.infra.integers import parse_id, parse_int
from admissions.models import Applicant, AuditEvent, User
from admissions.validators import normalize_ine


def _institution_id(user: User) -> int | None:
    if not user.is_authenticated:
        return None
    return user.institution_id


def applicants_for_user(user: User) -> QuerySet[Applicant]:
    institution_id = _institution_id(user)
    if institution_id is None:
        return Applicant.objects.none()
    return Applicant.objects.filter(institution_id=institution_id)


def applicant_get_for_user(*, user: User, applicant_id: int) -> Applicant:
    return get_object_or_404(applicants_for_user(user), pk=applicant_id)


def applicant_search(
    *,
    user: User,
    q: str = "",
    batch_id: int | None = None,
    order_by: tuple[str, ...] = ("birth_name", "id"),
) -> QuerySet[Applicant]:
    """Applicants by name (accents and case ignored), INE or file reference, and by import
    batch. The applicant list adds its filters on claims and their verdicts
    (``verifications.selectors.applicant_list_search``)."""
    applicants = applicants_for_user(user)
    raw = q.strip()
    if raw:
        words = search_key(raw).split()
        names = Q(pk__in=[]) if not words else Q()
        for word in words:
            names &= Q(name_key__contains=word)
        applicants = applicants.filter(
            names | Q(file_reference__istartswith=raw) | Q(ine=normalize_ine(raw))
        )
    if batch_id is not None:
        applicants = applicants.filter(batch_id=batch_id)
    return applicants.order_by(*order_by)


# A search matching at most this many applicants is sorted after its matches are found.
SORT_MATCHES_BELOW = 10_000


class ApplicantPaginator(Paginator):
    """Pages of ``applicant_search``.

    A search's matches are found by the trigram indexes (a bitmap); PostgreSQL then either sorts
    them, or walks the sort column's index until the page is full, whichever it expects to be
    cheaper. It expects matches to turn up evenly along that index, but a name's matches sit
    together in the name order: "YILMA" (1,796 matches of 100,000) walked 40,000 rows, 42 ms,
    where sorting the matches took 10 ms. So, once the count (which the paginator needs anyway)
    shows few matches, the page is sorted from them: the sort key ``institution_id + 0`` (one
    value within an institution, so the order is unchanged) matches no index. A search that
    matches most applicants (one letter) keeps the walk: 0.2 ms, where the sort took 67 ms."""

    def __init__(self, *args: Any, searching: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.searching = searching

    def page(self, number: Any) -> Any:
        number = self.validate_number(number)
        if self.searching and self.count <= SORT_MATCHES_BELOW:
            matches = cast(QuerySet[Applicant], self.object_list)
            ordering = matches.query.order_by
            self.object_list = matches.order_by(F("institution_id") + 0, *ordering)
        return super().page(number)


def audit_events_for_user(user: User) -> QuerySet[AuditEvent]:
    institution_id = _institution_id(user)
    if institution_id is None:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(institution_id=institution_id)


def audit_events_for_applicant(*, user: User, applicant: Applicant) -> QuerySet[AuditEvent]:
    return (
        audit_events_for_user(user).filter(applicant_id=applicant.pk).order_by("-created_at", "-id")
    )


# The institution-wide audit view ------------------------------------------------------------
# Newest first, by (created_at, id): keyset pagination, so that page 1,000 of a million events
# costs what page 1 does. Each filter has an index whose columns end with (created_at, id):
# audit_page (no filter, date range), audit_by_action, audit_by_actor, audit_by_applicant.


@dataclass(frozen=True)
class AuditCursor:
    """Where a page of the audit view starts: just after (older than) this event."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.id}"

    @classmethod
    def decode(cls, raw: str) -> "AuditCursor | None":
        micros_text, _sep, pk_text = (raw or "").partition(".")
        micros, pk = parse_int(micros_text), parse_id(pk_text)
        if micros is None or pk is None:
            return None
        try:
            return cls(_EPOCH + timedelta(microseconds=micros), pk)
        except OverflowError:
            return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    file_reference: str = ""
    object_type: str = ""

    def as_details(self) -> dict[str, Any]:
        """The filters as written in the export's own audit event (no personal data: a file
        reference is the institution's identifier, not the applicant's)."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value not in ("", None)
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# A batch's pause, resume and re-run: the ``change`` detail of the edits they were before they
# had their own actions (2026-12).
_BATCH_CHANGES: dict[str, str] = {
    AuditAction.BATCH_PAUSED: "paused",
    AuditAction.BATCH_RESUMED: "resumed",
    AuditAction.BATCH_RERUN: "rerun_failed",
}


def audit_event_search(*, user: User, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The institution's audit events matching the filters, newest first. An unknown file
    reference matches nothing (not everything)."""
    events = audit_events_for_user(user)
    if filters.action in _BATCH_CHANGES:
        # Also the same change written as an edit, before it had its own action.
        events = events.filter(
            Q(action=filters.action)
            | Q(action=AuditAction.EDITED, details__change=_BATCH_CHANGES[filters.action])
        )
    elif filters.action:
        events = events.filter(action=filters.action)
    if filters.actor_id is not None:
        events = events.filter(actor_id=filters.actor_id)
    if filters.object_type:
        events = events.filter(object_type=filters.object_type)
    if filters.date_from:
        events = events.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        events = events.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.file_reference:
        applicant_id = applicant_id_by_reference(user=user, file_reference=filters.file_reference)
        if applicant_id is None:
            return events.none()
        events = events.filter(applicant_id=applicant_id)
    return events.order_by("-created_at", "-id")


def applicant_id_by_reference(*, user: User, file_reference: str) -> int | None:
    """The id of the institution's applicant with this file reference, if any."""
    return (
        applicants_for_user(user)
        .filter(file_reference=file_reference.strip())
        .values_list("pk", flat=True)
        .first()
    )


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: AuditCursor | None
    # applicant id → file reference, for the events of this page.
    references: dict[int, str]


def audit_event_page(
    *, user: User, filters: AuditFilters, cursor: AuditCursor | None, size: int = 50
) -> AuditPage:
    """One page of ``audit_event_search``: three queries whatever the page size."""
    events = audit_event_search(user=user, filters=filters)
    if cursor is not None:
        # created_at <= c bounds the index scan; the OR only sorts out equal timestamps.
        events = events.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id)
        )
    rows = list(events.select_related("actor")[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = AuditCursor(rows[-1].created_at, rows[-1].pk)
    return AuditPage(
        events=rows,
        next_cursor=next_cursor,
        references=applicant_references(user=user, ids={e.applicant_id for e in rows}),
    )


def applicant_references(*, user: User, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [pk for pk in ids if pk is not None]
    if not wanted:
        return {}
    return dict(applicants_for_user(user).filter(pk__in=wanted).values_list("pk", "file_reference"))


def audit_actor_choices(user: User) -> list[tuple[int, str]]:
    """The institution's users, for the actor filter: by name (their username when no name
    is set), in alphabetical order."""
    institution_id = _institution_id(user)
    if institution_id is None:
        return []
    people = User.objects.filter(institution_id=institution_id).only(
        "pk", "username", "first_name", "last_name"
    )
    choices = [(person.pk, person.get_full_name() or person.get_username()) for person in people]
    return sorted(choices, key=lambda choice: (choice[1].casefold(), choice[0]))
