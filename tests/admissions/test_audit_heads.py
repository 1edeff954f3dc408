"""The audit chains' heads signed each night (admissions/audit_heads.py): ``audit_verify``
detects a history rewritten after a signed head even when every row was rehashed consistently,
a chain cut short, and a forged head."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from admissions.audit import GENESIS_HASH, audit_chains_verify, event_hash
from admissions.audit_heads import audit_chains_verify_signed, audit_heads_sign
from admissions.infra import signing
from admissions.models import AuditEvent, AuditHead
from admissions.tasks import audit_chain_check_task
from tests.admissions.test_audit import _events
from tests.factories import InstitutionFactory


pytestmark = pytest.mark.django_db


def _as_superuser(statements):
    """Run SQL behind the ORM's back with the append-only triggers off, as a database
    superuser could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def _rewrite_whole_chain(chain: str, purpose: str) -> None:
    """Change every row's purpose and rehash the whole chain consistently: the links alone no
    longer show anything."""
    table = AuditEvent._meta.db_table
    previous = GENESIS_HASH
    statements = []
    for event in AuditEvent.objects.filter(chain=chain).order_by("seq"):
        event.purpose = purpose
        event.prev_hash = previous
        event.hash = event_hash(event)
        previous = event.hash
        statements.append(
            (
                f'UPDATE "{table}" SET purpose = %s, prev_hash = %s, hash = %s WHERE id = %s',
                [event.purpose, event.prev_hash, event.hash, event.pk],
            )
        )
    _as_superuser(statements)


def test_the_nightly_check_signs_each_intact_chains_head_once():
    a, b = InstitutionFactory(), InstitutionFactory()
    _events(a, 3)
    _events(b, 2)
    audit_chain_check_task()
    heads = {h.chain: h for h in AuditHead.objects.all()}
    assert {chain: head.seq for chain, head in heads.items()} == {str(a.pk): 3, str(b.pk): 2}
    head = heads[str(a.pk)]
    assert head.hash == AuditEvent.objects.get(chain=str(a.pk), seq=3).hash
    assert signing.verify(
        head.payload.encode(), signing.Signature(head.key_id, signing.unb64(head.signature))
    )
    audit_chain_check_task()  # nothing new: nothing signed again
    assert AuditHead.objects.count() == 2
    _events(a, 1)
    audit_chain_check_task()
    assert list(AuditHead.objects.filter(chain=str(a.pk)).values_list("seq", flat=True)) == [4, 3]


def test_a_whole_chain_rewrite_after_a_signed_head_is_detected(capsys):
    institution = InstitutionFactory()
    _events(institution, 5)
    audit_heads_sign(audit_chains_verify())
    _events(institution, 2)
    chain = str(institution.pk)
    _rewrite_whole_chain(chain, "finalité réécrite")
    # The links alone hold: every row was rehashed.
    assert audit_chains_verify(chain)[0].breaks == []
    with pytest.raises(CommandError):
        call_command("audit_verify", chain=chain)
    err = capsys.readouterr().err
    fifth = AuditEvent.objects.get(chain=chain, seq=5)
    assert f"row id={fifth.pk} seq=5: the chain was rewritten after its head signed on" in err


def test_a_chain_cut_short_before_its_signed_head_is_detected():
    institution = InstitutionFactory()
    _events(institution, 4)
    audit_heads_sign(audit_chains_verify())
    chain = str(institution.pk)
    table = AuditEvent._meta.db_table
    _as_superuser([(f'DELETE FROM "{table}" WHERE chain = %s AND seq > 2', [chain])])
    (report,) = audit_chains_verify_signed(chain)
    assert [b.reason for b in report.breaks] == [
        f"the chain ends at seq 2, before its head signed on "
        f"{AuditHead.objects.get().signed_at.isoformat(timespec='seconds')}"
    ]


def test_a_chain_deleted_whole_is_reported_by_its_signed_head():
    institution = InstitutionFactory()
    _events(institution, 2)
    audit_heads_sign(audit_chains_verify())
    table = AuditEvent._meta.db_table
    _as_superuser([(f'DELETE FROM "{table}" WHERE chain = %s', [str(institution.pk)])])
    (report,) = audit_chains_verify_signed()
    assert report.chain == str(institution.pk)
    assert "the chain ends at seq 0" in report.breaks[0].reason


def test_a_forged_head_does_not_verify():
    institution = InstitutionFactory()
    events = _events(institution, 2)
    AuditHead.objects.create(
        chain=str(institution.pk),
        seq=2,
        hash=events[1].hash,
        signed_at="2026-12-01T03:17:00+00:00",
        payload=json.dumps({"chain": str(institution.pk), "hash": events[1].hash, "seq": 2}),
        key_id=signing.public_keys()[0].key_id,
        signature=signing.b64(b"\x00" * 64),
    )
    (report,) = audit_chains_verify_signed(str(institution.pk))
    assert [b.reason for b in report.breaks] == [
        "the head signed on 2026-12-01T03:17:00+00:00 does not verify"
    ]


def test_a_broken_chain_gets_no_signed_head():
    institution = InstitutionFactory()
    events = _events(institution, 3)
    table = AuditEvent._meta.db_table
    _as_superuser([(f'UPDATE "{table}" SET purpose = %s WHERE id = %s', ["autre", events[1].pk])])
    assert audit_heads_sign(audit_chains_verify_signed()) == []
    assert not AuditHead.objects.exists()
