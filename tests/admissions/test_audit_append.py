"""The one-statement append of ``audit_record`` on PostgreSQL (``admissions.audit._append``):
the hash PostgreSQL computes is ``event_hash``'s, and appends that race for the same seq all
land, in one unbroken chain."""

import threading

import pytest
from django.db import connection, connections, transaction

from admissions.audit import (
    AuditEntry,
    audit_chains_verify,
    audit_record,
    audit_record_many,
    event_hash,
)
from admissions.enums import AuditAction
from admissions.models import AuditEvent
from tests.factories import InstitutionFactory, UserFactory


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement append is PostgreSQL's"
)


@pytest.mark.django_db
def test_the_stored_hash_is_event_hash_of_the_stored_row():
    """Accents, quotes, backslashes, nested and empty details, no IP, an IPv6, no actor: the
    row read back hashes to what PostgreSQL wrote."""
    inst = InstitutionFactory()
    user = UserFactory(institution=inst, username="zoé")
    for details, ip, actor in [
        ({"reason": 'l\'élève « dit » "non" \\ ok', "n": [1, {"b": None, "a": 2.5}]}, None, user),
        ({}, "2001:db8::1", None),
        ({"emoji": "✓", "zéro": 0}, "10.0.0.1", user),
    ]:
        event = audit_record(
            action=AuditAction.VERDICT_RECORDED,
            actor=actor,
            institution=inst,
            object_type="claim",
            object_id=7,
            applicant_id=None,
            purpose="contrôle",
            ip=ip,
            details=details,
        )
        stored = AuditEvent.objects.get(pk=event.pk)
        assert stored.hash == event.hash == event_hash(stored)
    assert [r.breaks for r in audit_chains_verify(str(inst.pk))] == [[]]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_racing_appends_all_land_in_one_chain():
    """Eight threads append to one chain at once, some through ``audit_record_many`` (the
    lock-and-read path), each in its own transaction held open a moment after its append:
    every event lands, seq 1..N without a gap, and the chain verifies."""
    inst = InstitutionFactory()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            start.wait()
            for _ in range(5):
                with transaction.atomic():
                    if n % 4 == 0:
                        audit_record_many(
                            actor=None,
                            institution=inst,
                            entries=[AuditEntry(action=AuditAction.IMPORTED)] * 3,
                        )
                    else:
                        audit_record(
                            action=AuditAction.VIEWED,
                            actor=None,
                            institution=inst,
                            details={"thread": n},
                        )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(AuditEvent.objects.filter(chain=str(inst.pk)).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, 2 * 5 * 3 + 6 * 5 + 1))
    assert [r.breaks for r in audit_chains_verify(str(inst.pk))] == [[]]
