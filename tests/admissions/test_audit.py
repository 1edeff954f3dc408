import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from admissions.audit import GENESIS_HASH, audit_chains_verify, audit_record, event_hash
from admissions.enums import AuditAction
from admissions.infra.append_only import AppendOnlyError
from admissions.models import AuditEvent
from tests.factories import ApplicantFactory, InstitutionFactory, UserFactory


pytestmark = pytest.mark.django_db


def _events(institution, n, actor=None):
    return [
        audit_record(
            action=AuditAction.VIEWED,
            actor=actor,
            institution=institution,
            object_type="applicant",
            object_id=i,
            applicant_id=i,
            purpose="instruction du dossier",
            ip="2001:db8:0:0::1",
            details={"n": i},
        )
        for i in range(n)
    ]


def test_each_event_links_to_the_previous_one():
    inst = InstitutionFactory()
    events = _events(inst, 3, actor=UserFactory(institution=inst))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    stored = AuditEvent.objects.get(pk=events[2].pk)
    assert event_hash(stored) == stored.hash  # the hash survives the database round trip
    assert stored.ip == "2001:db8::1"


def test_institutions_have_separate_chains():
    a, b = InstitutionFactory(), InstitutionFactory()
    _events(a, 2)
    (first_b,) = _events(b, 1)
    assert first_b.seq == 1
    assert first_b.prev_hash == GENESIS_HASH
    assert {r.chain: r.length for r in audit_chains_verify()} == {str(a.pk): 2, str(b.pk): 1}


def _tamper(sql, params):
    """Change a row behind the ORM's back, as someone with database access could."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # a superuser can switch triggers off
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql.format(table=table), params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def test_audit_verify_names_the_tampered_row(capsys):
    inst = InstitutionFactory()
    events = _events(inst, 5)
    call_command("audit_verify")
    assert "5 events, intact" in capsys.readouterr().out

    _tamper('UPDATE "{table}" SET purpose = %s WHERE id = %s', ["autre finalité", events[2].pk])
    with pytest.raises(CommandError) as exc:
        call_command("audit_verify")
    assert exc.value.returncode == 1
    err = capsys.readouterr().err
    assert f"row id={events[2].pk} seq=3: content does not match its hash" in err
    assert "seq=4" not in err  # the rows after it still link to the stored hash


def test_audit_verify_detects_a_deleted_row(capsys):
    inst = InstitutionFactory()
    events = _events(inst, 4)
    _tamper('DELETE FROM "{table}" WHERE id = %s', [events[1].pk])
    with pytest.raises(CommandError):
        call_command("audit_verify", chain=str(inst.pk))
    err = capsys.readouterr().err
    assert f"row id={events[2].pk} seq=3: sequence jumps from 1 to 3" in err
    assert "previous-hash link does not match" in err


def test_audit_events_cannot_be_changed_through_the_orm():
    (event,) = _events(InstitutionFactory(), 1)
    event.purpose = "autre"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(purpose="autre")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["purpose"])
    assert AuditEvent.objects.get(pk=event.pk).purpose == "instruction du dossier"


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_audit_rows():
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (set DATABASE_URL)")
    (event,) = _events(InstitutionFactory(), 1)
    table = AuditEvent._meta.db_table
    for sql in (
        f"UPDATE \"{table}\" SET purpose = 'x' WHERE id = %s",
        f'DELETE FROM "{table}" WHERE id = %s',
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            with pytest.raises(Exception, match="append-only"):
                cursor.execute(sql, [event.pk])
            transaction.set_rollback(True)
    assert AuditEvent.objects.get(pk=event.pk).purpose == "instruction du dossier"


def test_an_action_and_its_audit_event_commit_together():
    """When the transaction fails after recording, neither the change nor the event remains."""
    inst = InstitutionFactory()
    applicant = ApplicantFactory(institution=inst)

    def edit_then_fail():
        with transaction.atomic():
            audit_record(action=AuditAction.EDITED, actor=None, institution=inst, obj=applicant)
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError):
        edit_then_fail()
    assert not AuditEvent.objects.filter(institution=inst).exists()
