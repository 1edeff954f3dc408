"""The audit trail: recording events in their hash chain, and verifying the chains.

``audit_record`` is called by services inside their transaction, so an action and its audit
event are committed together or not at all. Appending takes the chain's lock (a PostgreSQL
advisory lock held to the end of the transaction; on SQLite, IMMEDIATE transactions already
serialise writers), reads the chain's head, and writes the next row with the hash of everything
it says plus the previous hash.

``audit_record_many`` appends many events of one chain at once (a CSV import writes one per
applicant): it takes the lock and reads the head once, hashes the rows in sequence, and
inserts them in chunks with ``bulk_insert`` (append-only: inserts are allowed, updates are
not). The rows are exactly those ``audit_record`` would write.

``audit_events_purge`` deletes a chain's rows older than the retention period (API Particulier
asks for 36 months). It always deletes a *prefix* of the chain (seq 1..N), and in the same
transaction appends a ``purged`` event, the **anchor**, whose details name the last deleted row
(``audit_purged_through_seq`` = N, ``audit_purged_through_hash`` = its hash). Verification then
starts from the oldest remaining row: if its seq is not 1, an anchor must say that rows up to
seq - 1 were purged and that the last of them had exactly the hash this row's ``prev_hash``
points to. The anchor is itself a link of the chain (hashed with the rest), so removing more
rows, or forging an anchor, still breaks verification unless every later row is rewritten.

``audit_view_record`` records that a person saw an applicant's personal data and evidence
(``viewed``), once per person, applicant and purpose within ``VIGIE_AUDIT_VIEW_WINDOW_SECONDS``
(docs/SECURITY.md §The audit trail): a reload, or the page a save redirects to, is already
covered by the event that person has in the trail for that applicant a moment before.
"""

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from admissions.enums import AuditAction
from admissions.infra.append_only import purge_allowed
from admissions.infra.bulk import bulk_insert
from admissions.models import AuditEvent, Institution, User


logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
BACKOFFICE_CHAIN = "backoffice"
# First key of PostgreSQL's two-integer advisory locks, reserved for audit chains ("VA").
_ADVISORY_LOCK_CLASS = 0x5641


def chain_key(institution_id: int | None) -> str:
    return str(institution_id) if institution_id else BACKOFFICE_CHAIN


def _normalise_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    return clean_ipv6_address(ip) if ":" in ip else ip


def event_hash(event: AuditEvent) -> str:
    """The SHA-256 of a row's content and its predecessor's hash, in canonical JSON."""
    canonical = json.dumps(
        _hash_payload(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "chain": event.chain,
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "institution_id": event.institution_id,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": str(event.action),
        "object_type": event.object_type,
        "object_id": event.object_id,
        "applicant_id": event.applicant_id,
        "purpose": event.purpose,
        "ip": event.ip,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def _lock_chain(institution_id: int | None) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [_ADVISORY_LOCK_CLASS, institution_id or 0],
            )


def audit_record(
    *,
    action: AuditAction,
    actor: User | None,
    institution: Institution | None,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    applicant_id: int | None = None,
    purpose: str = "",
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event to the institution's chain, in the caller's transaction."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or obj.pk
    institution_id = institution.pk if institution is not None else None
    chain = chain_key(institution_id)
    event = AuditEvent(
        institution_id=institution_id,
        chain=chain,
        created_at=timezone.now(),
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else "system"),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        applicant_id=applicant_id,
        purpose=purpose[:255],
        ip=_normalise_ip(ip),
        details=details or {},
    )
    if connection.vendor == "postgresql" and _append(event):
        return event
    with transaction.atomic():
        _lock_chain(institution_id)
        head = AuditEvent.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
        event.seq = (head["seq"] + 1) if head else 1
        event.prev_hash = head["hash"] if head else GENESIS_HASH
        event.hash = event_hash(event)
        event.save()
    return event


# How many times an append reads the head again after another transaction took its seq
# (each time, that transaction has committed a row: the chain moved on).
_APPEND_ROUNDS = 100
_HASH_SPLIT = "\x00vigie:audit:split\x00"


def _hash_parts(event: AuditEvent) -> tuple[str, str, str] | None:
    """``event_hash``'s canonical JSON with its ``prev_hash`` and ``seq`` left out: the text
    before the previous hash, between it and the seq, and after the seq. The keys are sorted,
    and ``json.dumps`` with ``sort_keys`` writes a dict as its items in that order, each as
    ``dumps(key):dumps(value)``; so the three parts, with the previous hash (a JSON string of
    hex digits) and the seq (an integer) put back between them, are exactly
    ``event_hash``'s text (``tests/admissions/test_audit_append.py`` checks it)."""
    event.seq = 0
    event.prev_hash = _HASH_SPLIT
    payload = _hash_payload(event)
    payload["seq"] = _HASH_SPLIT
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    parts = text.split(json.dumps(_HASH_SPLIT))
    if len(parts) != 3:  # the marker in the details too (jsonb refuses a NUL): locked path
        return None
    before, between, after = parts
    return before + '"', '"' + between, after


# One statement: take the chain's lock, read its head, hash the next row and insert it. The
# lock keeps the chain's other writers (``audit_record_many``, the purge, a view's check) out
# until this transaction ends, as before. The head is read in the statement's snapshot, which
# may predate the lock (taken while the statement runs); then another transaction has
# committed the same seq meanwhile, the unique (chain, seq) index refuses this row (ON CONFLICT
# DO NOTHING: no error, nothing returned) and ``_append`` reads the head again in a new
# statement, which sees that row.
_APPEND_SQL = """
WITH locked AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(%(lock_class)s, %(lock_id)s)
),
head AS (
    SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM admissions_auditevent
            WHERE chain = %(chain)s) AS seq,
           COALESCE((SELECT hash FROM admissions_auditevent
                     WHERE chain = %(chain)s ORDER BY seq DESC LIMIT 1), %(genesis)s) AS prev
    FROM locked
)
INSERT INTO admissions_auditevent (
    institution_id, chain, seq, created_at, actor_id, actor_label, action, object_type,
    object_id, applicant_id, purpose, ip, details, prev_hash, hash
)
SELECT %(institution_id)s, %(chain)s, head.seq, %(created_at)s, %(actor_id)s,
       %(actor_label)s, %(action)s, %(object_type)s, %(object_id)s, %(applicant_id)s,
       %(purpose)s, %(ip)s, %(details)s, head.prev,
       encode(sha256(convert_to(
           %(before)s || head.prev || %(between)s || head.seq::text || %(after)s, 'UTF8'
       )), 'hex')
FROM head
ON CONFLICT DO NOTHING
RETURNING id, seq, prev_hash, hash
"""


def _append(event: AuditEvent) -> bool:
    """Append ``event`` to its chain on PostgreSQL in one statement (``_APPEND_SQL``), where
    the lock, the head read and the insert took three and a savepoint. Correct under
    concurrency because ``seq`` is unique per chain: of two appends that read the same head,
    one inserts and the other, refused, reads the head again. The hash is the same as
    ``event_hash``'s (checked after the insert: a difference fails the caller's
    transaction). False when the event cannot be appended this way (``_hash_parts``)."""
    parts = _hash_parts(event)
    if parts is None:
        return False
    before, between, after = parts
    params: dict[str, Any] = {
        "chain": event.chain,
        "genesis": GENESIS_HASH,
        "lock_class": _ADVISORY_LOCK_CLASS,
        "lock_id": event.institution_id or 0,
        "institution_id": event.institution_id,
        "created_at": event.created_at,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": str(event.action),
        "object_type": event.object_type,
        "object_id": event.object_id,
        "applicant_id": event.applicant_id,
        "purpose": event.purpose,
        "ip": event.ip,
        "details": json.dumps(event.details),
        "before": before,
        "between": between,
        "after": after,
    }
    with connection.cursor() as cursor:
        for _round in range(_APPEND_ROUNDS):
            cursor.execute(_APPEND_SQL, params)
            row = cursor.fetchone()
            if row is not None:
                event.pk, event.seq, event.prev_hash, event.hash = row
                event._state.adding = False
                event._state.db = connection.alias
                if event_hash(event) != event.hash:
                    raise RuntimeError(f"audit chain {event.chain}: seq {event.seq} misshashed")
                return True
    raise RuntimeError(f"audit chain {event.chain}: no free seq after {_APPEND_ROUNDS} reads")


def audit_view_record(
    *,
    actor: User,
    institution: Institution | None,
    obj: Model,
    applicant_id: int,
    purpose: str,
    ip: str | None = None,
) -> AuditEvent | None:
    """Record that ``actor`` saw an applicant's data and evidence for ``purpose``, unless the
    trail already holds, within ``VIGIE_AUDIT_VIEW_WINDOW_SECONDS``, an event of theirs about
    that applicant that covers it: a view for the same purpose, or a write of theirs (the page
    a save redirects to shows what they have just written). Returns the event, or None when an
    earlier one covers this view. The check and the append hold the chain's lock, so two loads
    at once record one view."""
    window = timedelta(seconds=settings.VIGIE_AUDIT_VIEW_WINDOW_SECONDS)
    institution_id = institution.pk if institution is not None else None
    with transaction.atomic():
        _lock_chain(institution_id)
        if window:
            recent = AuditEvent.objects.filter(
                chain=chain_key(institution_id),
                applicant_id=applicant_id,
                actor=actor,
                created_at__gte=timezone.now() - window,
            )
            viewed = recent.filter(action=AuditAction.VIEWED, purpose=purpose[:255])
            if viewed.exists() or recent.exclude(action=AuditAction.VIEWED).exists():
                return None
        return audit_record(
            action=AuditAction.VIEWED,
            actor=actor,
            institution=institution,
            obj=obj,
            applicant_id=applicant_id,
            purpose=purpose,
            ip=ip,
        )


# Every column of an event, for the bulk path.
_EVENT_FIELDS = (
    "institution_id",
    "chain",
    "seq",
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "applicant_id",
    "purpose",
    "ip",
    "details",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class AuditEntry:
    """One event for ``audit_record_many``: what ``audit_record`` takes besides the chain."""

    action: AuditAction
    object_type: str = ""
    object_id: str | int = ""
    applicant_id: int | None = None
    purpose: str = ""
    details: dict[str, Any] | None = None


def audit_record_many(
    *,
    actor: User | None,
    institution: Institution | None,
    entries: Iterable[AuditEntry],
    ip: str | None = None,
    actor_label: str = "",
    batch_size: int = 2000,
) -> list[AuditEvent]:
    """Append several events to one chain, in the caller's transaction, in the given order.

    The same rows as that many ``audit_record`` calls (one timestamp for all), for the cost of
    one lock, one head read and one ``executemany`` per ``batch_size`` rows. The events are
    returned without their ``pk`` (read them back by ``chain`` and ``seq`` if needed).
    """
    institution_id = institution.pk if institution is not None else None
    chain = chain_key(institution_id)
    with transaction.atomic():
        _lock_chain(institution_id)
        head = AuditEvent.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
        seq = head["seq"] if head else 0
        prev_hash = head["hash"] if head else GENESIS_HASH
        now = timezone.now()
        label = actor_label or (actor.get_username() if actor else "system")
        ip = _normalise_ip(ip)
        events = []
        for entry in entries:
            seq += 1
            event = AuditEvent(
                institution_id=institution_id,
                chain=chain,
                seq=seq,
                created_at=now,
                actor=actor,
                actor_label=label,
                action=entry.action,
                object_type=entry.object_type,
                object_id=str(entry.object_id),
                applicant_id=entry.applicant_id,
                purpose=entry.purpose[:255],
                ip=ip,
                details=entry.details or {},
                prev_hash=prev_hash,
            )
            event.hash = prev_hash = event_hash(event)
            events.append(event)
        bulk_insert(
            AuditEvent,
            _EVENT_FIELDS,
            ([getattr(event, name) for name in _EVENT_FIELDS] for event in events),
            batch_size=batch_size,
        )
    return events


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    event_id: int
    seq: int
    reason: str


ANCHOR_SEQ = "audit_purged_through_seq"
ANCHOR_HASH = "audit_purged_through_hash"


def _chain_start(chain: str) -> tuple[int, str, ChainBreak | None]:
    """Where verification starts: (expected seq, expected prev_hash, a break if rows are
    missing at the start and no purge anchor accounts for them)."""
    first = (
        AuditEvent.objects.filter(chain=chain)
        .order_by("seq")
        .values("pk", "seq", "prev_hash")
        .first()
    )
    if first is None or first["seq"] == 1:
        return 1, GENESIS_HASH, None
    through = first["seq"] - 1
    anchor = (
        AuditEvent.objects.filter(
            chain=chain, action=AuditAction.PURGED, **{f"details__{ANCHOR_SEQ}": through}
        )
        .order_by("-seq")
        .values("details")
        .first()
    )
    if anchor is None:  # reported, then verification goes on from the oldest row
        return (
            first["seq"],
            first["prev_hash"],
            ChainBreak(
                chain,
                first["pk"],
                first["seq"],
                f"rows 1 to {through} are missing and no purge anchor accounts for them",
            ),
        )
    return first["seq"], anchor["details"][ANCHOR_HASH], None


def _chain_breaks(chain: str) -> Iterator[ChainBreak]:
    expected_seq, expected_prev, missing = _chain_start(chain)
    if missing is not None:
        yield missing
    rows = AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)
    for event in rows:
        if event.seq != expected_seq:
            yield ChainBreak(
                chain, event.pk, event.seq, f"sequence jumps from {expected_seq - 1} to {event.seq}"
            )
        if event.prev_hash != expected_prev:
            yield ChainBreak(
                chain, event.pk, event.seq, "previous-hash link does not match the row before"
            )
        if event_hash(event) != event.hash:
            yield ChainBreak(chain, event.pk, event.seq, "content does not match its hash")
        expected_prev = event.hash
        expected_seq = event.seq + 1


@dataclass(frozen=True)
class ChainReport:
    chain: str
    length: int
    head_hash: str
    breaks: list[ChainBreak]
    # What else a check found worth saying (the signed heads' time-stamps), one line each.
    notes: list[str] = field(default_factory=list)


def audit_chains_verify(chain: str | None = None) -> list[ChainReport]:
    """Recompute every chain (or one) and report where each breaks."""
    chains = (
        [chain]
        if chain
        else list(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
    )
    reports = []
    for key in sorted(chains):
        head = AuditEvent.objects.filter(chain=key).order_by("-seq").values("seq", "hash").first()
        reports.append(
            ChainReport(
                chain=key,
                length=head["seq"] if head else 0,
                head_hash=head["hash"] if head else GENESIS_HASH,
                breaks=list(_chain_breaks(key)),
            )
        )
    return reports


def audit_events_purge(*, institution: Institution | None, before: datetime) -> int:
    """Delete the chain's events older than ``before`` (a prefix of the chain) and append the
    anchor that lets ``audit_verify`` start after them. Returns the number deleted."""
    institution_id = institution.pk if institution is not None else None
    chain = chain_key(institution_id)
    with transaction.atomic():
        _lock_chain(institution_id)
        events = AuditEvent.objects.filter(chain=chain)
        first_kept = (
            events.filter(created_at__gte=before).order_by("seq").values_list("seq", flat=True)
        ).first()
        if first_kept is None:
            head = events.order_by("-seq").values_list("seq", flat=True).first()
            through = head or 0
        else:
            # Everything before the first row still within retention: a clock that went back
            # leaves a row or two longer, never deletes a kept one.
            through = first_kept - 1
        last = events.filter(seq__lte=through).order_by("-seq").values("seq", "hash").first()
        if last is None:
            return 0
        with purge_allowed():
            deleted, _ = events.filter(seq__lte=through).delete()
        audit_record(
            action=AuditAction.PURGED,
            actor=None,
            actor_label="retention",
            institution=institution,
            object_type="auditevent",
            details={
                ANCHOR_SEQ: last["seq"],
                ANCHOR_HASH: last["hash"],
                "deleted": deleted,
                "before": before.astimezone(UTC).isoformat(),
            },
        )
    return deleted
