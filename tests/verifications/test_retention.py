"""Retention: the purge of raw evidence at N months and of audit events at 36 months, the
purge's narrow bypass of the append-only rules, and the audit chain still verifiable after."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from admissions.audit import ANCHOR_HASH, ANCHOR_SEQ, audit_chains_verify, audit_record
from admissions.enums import AuditAction
from admissions.infra.append_only import AppendOnlyError, purge_allowed
from admissions.models import AuditEvent
from sandbox.population import CvecOutcome
from tests.factories import ClaimFactory, InstitutionFactory, UserFactory
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.enums import ClaimKind, Source, Verdict
from verifications.freshness import evidence_digest
from verifications.models import InstitutionPolicy, VerificationAttempt, VerificationRequest
from verifications.services.policies import institution_policy_get
from verifications.services.retention import retention_purge_tick


pytestmark = pytest.mark.django_db


def years_later(when: dt.datetime, years: int) -> dt.datetime:
    return when.replace(year=when.year + years)


@pytest.fixture
def institution():
    return InstitutionFactory()


# --- Raw evidence -------------------------------------------------------------------------------


@pytest.mark.usefixtures("sandbox_settings")
def test_evidence_is_purged_after_12_months_keeping_verdict_diff_and_hash(institution, client):
    claim = claim_for(person_with(cvec=CvecOutcome.VALID), ClaimKind.CVEC, institution)
    request = run_until_done(request_for(claim))
    assert request.verdict == Verdict.CONFIRMED
    assert request.evidence
    assert request.evidence_hash == evidence_digest(request.evidence)
    attempts = list(request.attempts.all())
    assert attempts
    assert any(a.payload for a in attempts)
    kept = {
        "verdict": request.verdict,
        "reason": request.reason,
        "diff": request.diff,
        "evidence_hash": request.evidence_hash,
    }
    finished = request.finished_at
    deadline = years_later(finished, 1)  # 12 months, the default

    with time_machine.travel(deadline - dt.timedelta(days=1), tick=False):
        assert retention_purge_tick() == {}
    request.refresh_from_db()
    assert request.evidence
    assert request.evidence_purged_at is None

    with time_machine.travel(deadline + dt.timedelta(days=1), tick=False):
        report = retention_purge_tick()
    assert report[institution.pk]["requests"] == 1
    assert report[institution.pk]["attempts"] == len([a for a in attempts if a.payload])
    request.refresh_from_db()
    assert request.evidence == {}
    assert request.evidence_purged_at is not None
    assert {name: getattr(request, name) for name in kept} == kept
    assert all(a.payload == {} for a in request.attempts.all())
    # The attempts themselves stay: who called what, when, and how it went.
    assert [a.http_status for a in request.attempts.order_by("id")] == [
        a.http_status for a in attempts
    ]
    event = AuditEvent.objects.filter(action=AuditAction.PURGED).get()
    assert event.object_type == "evidence"
    assert event.details["requests"] == 1
    assert all(not r.breaks for r in audit_chains_verify())

    # The claim's card says so.
    client.force_login(UserFactory(institution=institution))
    page = client.get(reverse("applicant_detail", args=[claim.applicant_id])).text
    assert "preuves brutes purgées le" in page
    assert request.evidence_hash in page

    # Purged once: a later tick finds nothing more to do.
    with time_machine.travel(deadline + dt.timedelta(days=2), tick=False):
        assert retention_purge_tick() == {}


def test_the_evidence_period_is_the_institutions(institution):
    InstitutionPolicy.objects.filter(pk=institution_policy_get(institution).pk).update(
        evidence_retention_months=3
    )
    claim = ClaimFactory(applicant__institution=institution)
    request = VerificationRequest.objects.create(
        institution=institution,
        claim=claim,
        source=Source.API_PARTICULIER,
        trigger="manual",
        state="done",
        verdict=Verdict.CONFIRMED,
        evidence={"est_scolarise": True},
        finished_at=dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC),
    )
    with time_machine.travel(dt.datetime(2027, 4, 9, 12, tzinfo=dt.UTC), tick=False):
        retention_purge_tick()
    request.refresh_from_db()
    assert request.evidence
    with time_machine.travel(dt.datetime(2027, 4, 11, 12, tzinfo=dt.UTC), tick=False):
        retention_purge_tick()
    request.refresh_from_db()
    assert request.evidence == {}


# --- Audit events -------------------------------------------------------------------------------


def _events(institution, n, purpose="instruction du dossier"):
    return [
        audit_record(
            action=AuditAction.VIEWED,
            actor=None,
            institution=institution,
            object_type="applicant",
            object_id=i,
            purpose=purpose,
        )
        for i in range(n)
    ]


def test_audit_events_are_kept_36_months_and_the_chain_still_verifies(institution, capsys):
    start = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        old = _events(institution, 3)
    with time_machine.travel(start + dt.timedelta(days=30), tick=False):
        recent = _events(institution, 2)
    deadline = years_later(start, 3)

    with time_machine.travel(deadline - dt.timedelta(days=1), tick=False):
        retention_purge_tick()
    assert AuditEvent.objects.filter(chain=str(institution.pk)).count() == 5

    with time_machine.travel(deadline + dt.timedelta(days=1), tick=False):
        report = retention_purge_tick()
    assert report[institution.pk]["audit_events"] == 3
    remaining = AuditEvent.objects.filter(chain=str(institution.pk)).order_by("seq")
    assert [e.pk for e in remaining][:2] == [e.pk for e in recent]
    anchor = remaining.get(action=AuditAction.PURGED)
    assert anchor.details[ANCHOR_SEQ] == old[-1].seq == 3
    assert anchor.details[ANCHOR_HASH] == old[-1].hash
    assert anchor.seq == 6
    # The oldest remaining row points at a purged one, and the anchor vouches for it.
    assert recent[0].prev_hash == old[-1].hash
    (chain_report,) = audit_chains_verify(str(institution.pk))
    assert chain_report.breaks == []
    call_command("audit_verify", chain=str(institution.pk))
    assert "6 events, intact" in capsys.readouterr().out

    # A later purge moves the anchor on; the chain still verifies.
    with time_machine.travel(years_later(start, 4), tick=False):
        retention_purge_tick()
    rows = list(AuditEvent.objects.filter(chain=str(institution.pk)).order_by("seq"))
    assert [r.seq for r in rows] == [6, 7]  # the first anchor is not 36 months old yet
    assert rows[-1].details[ANCHOR_SEQ] == 5
    assert audit_chains_verify(str(institution.pk))[0].breaks == []


def test_rows_missing_at_the_start_without_an_anchor_break_the_chain(institution, capsys):
    events = _events(institution, 3)
    with transaction.atomic(), purge_allowed():  # someone deletes behind the purge's back
        AuditEvent.objects.filter(pk=events[0].pk).delete()
    with pytest.raises(CommandError):
        call_command("audit_verify", chain=str(institution.pk))
    err = capsys.readouterr().err
    assert f"row id={events[1].pk} seq=2: rows 1 to 1 are missing" in err
    # Verification goes on from the oldest row: the rest of the chain is sound.
    assert len(audit_chains_verify(str(institution.pk))[0].breaks) == 1


def test_a_forged_anchor_does_not_hide_a_deletion(institution):
    events = _events(institution, 4)
    with transaction.atomic(), purge_allowed():
        AuditEvent.objects.filter(seq__lte=2, chain=str(institution.pk)).delete()
    audit_record(
        action=AuditAction.PURGED,
        actor=None,
        institution=institution,
        details={ANCHOR_SEQ: 2, ANCHOR_HASH: "f" * 64},
    )
    (report,) = audit_chains_verify(str(institution.pk))
    assert [(b.seq, b.reason) for b in report.breaks] == [
        (events[2].seq, "previous-hash link does not match the row before")
    ]


# --- The purge's bypass of the append-only rules ----------------------------------------------


@pytest.fixture
def attempt():
    claim = ClaimFactory()
    request = VerificationRequest.objects.create(
        institution=claim.institution, claim=claim, source=Source.CVEC, trigger="manual"
    )
    return VerificationAttempt.objects.create(
        request=request,
        source=Source.CVEC,
        outcome="answered",
        http_status=200,
        payload={"etat": "70"},
    )


def test_the_orm_lets_only_the_purge_blank_payloads_or_delete(attempt):
    rows = VerificationAttempt.objects.filter(pk=attempt.pk)
    with pytest.raises(AppendOnlyError):
        rows.purge_fields("payload")
    with pytest.raises(AppendOnlyError):
        rows.delete()
    with transaction.atomic(), purge_allowed():
        with pytest.raises(AppendOnlyError):
            rows.purge_fields("http_status")  # not purgeable
        with pytest.raises(AppendOnlyError):
            rows.update(http_status=500)  # update stays refused
        assert rows.purge_fields("payload") == 1
    # The bypass ended with the block.
    with pytest.raises(AppendOnlyError):
        rows.delete()
    assert VerificationAttempt.objects.get(pk=attempt.pk).payload == {}


@pytest.mark.postgres
def test_postgresql_refuses_ordinary_changes_and_accepts_only_the_purges(attempt):
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (set DATABASE_URL)")
    attempts = VerificationAttempt._meta.db_table
    (event,) = _events(attempt.request.institution, 1)
    audit = AuditEvent._meta.db_table

    def refused(sql, params, *, purge=False, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            if purge:
                cursor.execute("SELECT set_config('vigie.allow_purge', 'on', true)")
            with pytest.raises(Exception, match=match):
                cursor.execute(sql, params)
            transaction.set_rollback(True)

    # Ordinary UPDATE and DELETE: refused on both tables.
    refused(f"UPDATE \"{attempts}\" SET payload = '{{}}' WHERE id = %s", [attempt.pk])
    refused(f'DELETE FROM "{attempts}" WHERE id = %s', [attempt.pk])
    refused(f"UPDATE \"{audit}\" SET purpose = 'x' WHERE id = %s", [event.pk])
    refused(f'DELETE FROM "{audit}" WHERE id = %s', [event.pk])
    # Under the purge flag: other columns, a payload that is not blank, any audit UPDATE.
    refused(f'UPDATE "{attempts}" SET http_status = 500 WHERE id = %s', [attempt.pk], purge=True)
    refused(
        f'UPDATE "{attempts}" SET payload = \'{{"x": 1}}\' WHERE id = %s',
        [attempt.pk],
        purge=True,
        match="may only blank",
    )
    refused(f"UPDATE \"{audit}\" SET purpose = 'x' WHERE id = %s", [event.pk], purge=True)
    # Off again after purge_allowed(), within the same transaction.
    with transaction.atomic():
        with purge_allowed():
            VerificationAttempt.objects.filter(pk=attempt.pk).purge_fields("payload")
        with connection.cursor() as cursor, pytest.raises(Exception, match="append-only"):
            cursor.execute(f'DELETE FROM "{attempts}" WHERE id = %s', [attempt.pk])
        transaction.set_rollback(True)
    # What the purge does passes.
    with transaction.atomic(), purge_allowed():
        VerificationAttempt.objects.filter(pk=attempt.pk).purge_fields("payload")
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert VerificationAttempt.objects.get(pk=attempt.pk).payload == {}
    assert VerificationAttempt.objects.get(pk=attempt.pk).http_status == 200
    assert not AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_purge_ends_in_one_transaction_or_not_at_all(institution):
    """A purge that fails half-way leaves every row as it was."""
    start = timezone.now()
    _events(institution, 2)

    def purge_then_fail():
        with transaction.atomic(), purge_allowed():
            AuditEvent.objects.filter(chain=str(institution.pk)).delete()
            raise RuntimeError("disk full")

    with time_machine.travel(start, tick=False), pytest.raises(RuntimeError):
        purge_then_fail()
    assert AuditEvent.objects.filter(chain=str(institution.pk)).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_purge_flag_ends_with_its_transaction(attempt):
    """In real transactions (not the test's savepoints): the flag set by one transaction does
    not reach the next, and the ORM's bypass needs an atomic block."""
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (set DATABASE_URL)")
    with pytest.raises(AppendOnlyError, match=r"inside transaction\.atomic"), purge_allowed():
        pass
    table = VerificationAttempt._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('vigie.allow_purge', 'on', true)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('vigie.allow_purge', true)")
        assert cursor.fetchone()[0] in ("", None)
        with pytest.raises(Exception, match="append-only"):
            cursor.execute(f'DELETE FROM "{table}" WHERE id = %s', [attempt.pk])
    assert VerificationAttempt.objects.filter(pk=attempt.pk).exists()


def test_the_command_is_a_dry_run_unless_told_otherwise(institution, capsys):
    start = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        _events(institution, 2)
    with time_machine.travel(years_later(start, 4), tick=False):
        call_command("retention_purge")
        out = capsys.readouterr().out
        assert (
            f"institution {institution.pk}: 0 requests' evidence, 0 attempt payloads, 2 audit"
            in out
        )
        assert "dry run" in out
        assert AuditEvent.objects.filter(chain=str(institution.pk)).count() == 2
        call_command("retention_purge", "--wet-run")
        assert "dry run" not in capsys.readouterr().out
    assert AuditEvent.objects.filter(chain=str(institution.pk)).count() == 1  # the anchor
