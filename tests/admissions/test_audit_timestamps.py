"""RFC 3161 time-stamps of the audit chains' signed heads (admissions/audit_heads.py,
admissions/infra/timestamps.py), over real HTTP to the sandbox's stand-in authority
(sandbox/tsa.py): the token is stored and ``audit_verify`` checks it and reports its time; a head
changed after its time-stamp, or a token from an authority the CA file does not name, is
refused; an authority that is down, refuses, or answers what does not verify leaves the head
signed without a token, and a later run adds one. OpenSSL checks the exported files on its own.
"""

import datetime as dt
import json
import logging
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from admissions.audit import audit_chains_verify
from admissions.audit_heads import audit_chains_verify_signed, audit_heads_sign, head_document
from admissions.infra import signing, timestamps
from admissions.infra.append_only import AppendOnlyError
from admissions.models import AuditHead, AuditHeadTimestamp
from admissions.tasks import audit_chain_check_task
from tests.admissions.test_audit import _events
from tests.admissions.test_audit_heads import _as_superuser
from tests.factories import InstitutionFactory
from tests.ops.test_metrics import TOKEN, samples, scrape, value


pytestmark = pytest.mark.django_db


@pytest.fixture
def tsa(sandbox_settings, settings, tmp_path):
    """Vigie pointed at the sandbox's authority, its root certificate fetched over HTTP."""
    answer = sandbox_settings.session.get(f"{sandbox_settings.url}/tsa/ca.pem", timeout=10)
    assert answer.status_code == 200
    ca_file = tmp_path / "tsa-ca.pem"
    ca_file.write_bytes(answer.content)
    settings.VIGIE_TSA_URL = f"{sandbox_settings.url}/tsa"
    settings.VIGIE_TSA_CA_FILE = str(ca_file)
    settings.VIGIE_TSA_TIMEOUT = 2.0
    return sandbox_settings


def _tsa_requests(sandbox) -> int:
    endpoints = sandbox.stats()["endpoints"]
    return endpoints.get("tsa.timestamp", {}).get("requests", 0)


def test_the_nightly_check_time_stamps_each_new_head_and_audit_verify_reports_it(tsa, capsys):
    a, b = InstitutionFactory(), InstitutionFactory()
    _events(a, 3)
    _events(b, 2)
    before = timezone.now().replace(microsecond=0)
    audit_chain_check_task()
    stamps = {s.head.chain: s for s in AuditHeadTimestamp.objects.select_related("head")}
    assert {chain: s.head.seq for chain, s in stamps.items()} == {str(a.pk): 3, str(b.pk): 2}
    stamp = stamps[str(a.pk)]
    checked = timestamps.verify(bytes(stamp.token), head_document(stamp.head))
    assert checked.gen_time == stamp.gen_time
    assert before <= stamp.gen_time <= timezone.now()
    assert stamp.tsa == "CN=Vigie sandbox TSA (test only),O=Vigie sandbox"
    assert _tsa_requests(tsa) == 2

    audit_chain_check_task()  # nothing new: nothing signed or time-stamped again
    assert AuditHeadTimestamp.objects.count() == 2
    assert _tsa_requests(tsa) == 2

    capsys.readouterr()
    call_command("audit_verify", chain=str(a.pk))
    out = capsys.readouterr().out
    when = stamp.gen_time.astimezone(dt.UTC).isoformat(timespec="seconds")
    assert (
        f"chain {a.pk}: 1 signed head(s) time-stamped; the latest, seq 3, at {when} by "
        "CN=Vigie sandbox TSA (test only),O=Vigie sandbox"
    ) in out


def test_a_head_re_signed_after_its_time_stamp_is_refused(tsa, capsys):
    """Someone holding the signing key rewrites a head (here: backdates it) and signs it again:
    the signature holds, the authority's time-stamp no longer matches."""
    institution = InstitutionFactory()
    _events(institution, 4)
    audit_chain_check_task()
    head = AuditHead.objects.get()
    assert hasattr(head, "timestamp")
    payload = head.payload.replace(head.signed_at.isoformat(timespec="seconds")[:4], "2020")
    assert payload != head.payload
    signature = signing.b64(signing.sign(payload.encode()).value)
    table = AuditHead._meta.db_table
    _as_superuser(
        [
            (
                f'UPDATE "{table}" SET payload = %s, signature = %s WHERE id = %s',
                [payload, signature, head.pk],
            )
        ]
    )
    (report,) = audit_chains_verify_signed(str(institution.pk))
    assert [b.reason for b in report.breaks] == [
        f"the time-stamp of the head signed on {head.signed_at.isoformat(timespec='seconds')} "
        "does not verify: its imprint is not this document's SHA-256"
    ]
    with pytest.raises(CommandError):
        call_command("audit_verify", chain=str(institution.pk))
    assert "does not verify: its imprint is not this document's SHA-256" in capsys.readouterr().err


def _other_root(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another TSA root")])
    now = dt.datetime.now(dt.UTC)
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    path = tmp_path / "other-ca.pem"
    path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return path


def test_a_token_from_an_authority_the_ca_file_does_not_name_is_refused(tsa, settings, tmp_path):
    institution = InstitutionFactory()
    _events(institution, 2)
    audit_chain_check_task()
    assert AuditHeadTimestamp.objects.count() == 1
    settings.VIGIE_TSA_CA_FILE = str(_other_root(tmp_path))
    (report,) = audit_chains_verify_signed(str(institution.pk))
    (brk,) = report.breaks
    assert brk.reason.startswith("the time-stamp of the head signed on ")
    assert "does not verify: it does not verify: Error while verifying certificates" in brk.reason

    # Asked of that authority now, a time-stamp is refused too, and none is stored. (The first
    # chain is reported broken, so it gets no new head: a second institution's chain does.)
    other = InstitutionFactory()
    _events(other, 1)
    audit_chain_check_task()
    chains = sorted(AuditHead.objects.values_list("chain", flat=True))
    assert chains == sorted([str(institution.pk), str(other.pk)])
    assert AuditHeadTimestamp.objects.count() == 1


@pytest.mark.parametrize(
    ("knobs", "logged"),
    [
        ({"apis": {"tsa": {"outage": True}}}, "the TSA answered HTTP 503"),
        (
            {"apis": {"tsa": {"outage": True, "outage_mode": "reset"}}},
            "the TSA could not be reached (ConnectionError)",
        ),
        (
            {"apis": {"tsa": {"outage": True, "outage_mode": "timeout", "timeout_seconds": 5}}},
            "the TSA could not be reached (ReadTimeout)",
        ),
        (
            {"tsa_status": "rejection"},
            "the TSA refused it (PKIStatus 2: sandbox: tsa_status is rejection)",
        ),
        ({"tsa_tamper": "nonce"}, "its nonce is not the request's"),
        ({"tsa_tamper": "imprint"}, "its imprint is not this document's SHA-256"),
        ({"tsa_tamper": "signature"}, "it does not verify: Error while verifying certificates"),
    ],
    ids=[
        "http-503",
        "connection-reset",
        "timeout",
        "rejection",
        "wrong-nonce",
        "wrong-imprint",
        "bad-sig",
    ],
)
def test_a_failing_authority_leaves_the_head_signed_and_a_later_run_adds_the_token(
    tsa, caplog, client, settings, knobs, logged
):
    settings.VIGIE_METRICS_TOKEN = TOKEN
    a, b = InstitutionFactory(), InstitutionFactory()
    _events(a, 3)
    _events(b, 1)
    tsa.configure(**knobs)
    with caplog.at_level(logging.WARNING, logger="admissions.audit_heads"):
        audit_chain_check_task()
    assert AuditHead.objects.count() == 2  # signed all the same
    assert not AuditHeadTimestamp.objects.exists()
    (record,) = [r for r in caplog.records if r.name == "admissions.audit_heads"]
    assert logged in record.getMessage()
    assert "2 head(s) wait for the next run" in record.getMessage()  # one failure ends the run
    assert "127.0.0.1" not in record.getMessage()  # never the URL
    assert _tsa_requests(tsa) == 1
    assert value(samples(scrape(client)), "vigie_audit_heads_untimestamped") == 2

    tsa.reset()
    audit_chain_check_task()  # the chains did not grow: the same heads get their tokens
    assert value(samples(scrape(client)), "vigie_audit_heads_untimestamped") == 0
    assert sorted(AuditHeadTimestamp.objects.values_list("head__chain", "head__seq")) == sorted(
        [(str(a.pk), 3), (str(b.pk), 1)]
    )
    for chain_report in audit_chains_verify_signed():
        assert chain_report.breaks == []


def test_only_each_chains_newest_head_is_time_stamped(tsa, settings):
    institution = InstitutionFactory()
    _events(institution, 2)
    settings.VIGIE_TSA_URL = ""  # no authority yet
    audit_chain_check_task()
    _events(institution, 2)
    audit_chain_check_task()
    settings.VIGIE_TSA_URL = f"{tsa.url}/tsa"
    audit_chain_check_task()
    assert list(AuditHeadTimestamp.objects.values_list("head__seq", flat=True)) == [4]
    assert _tsa_requests(tsa) == 1


def test_tokens_stored_are_reported_unchecked_without_a_ca_file(tsa, settings, capsys):
    institution = InstitutionFactory()
    _events(institution, 2)
    audit_chain_check_task()
    settings.VIGIE_TSA_URL = ""
    settings.VIGIE_TSA_CA_FILE = ""
    call_command("audit_verify", chain=str(institution.pk))
    assert (
        f"chain {institution.pk}: 1 time-stamp(s) not checked: VIGIE_TSA_CA_FILE is not set"
        in capsys.readouterr().out
    )


def test_a_forged_token_does_not_verify(tsa):
    institution = InstitutionFactory()
    _events(institution, 2)
    audit_heads_sign(audit_chains_verify())
    head = AuditHead.objects.get()
    AuditHeadTimestamp.objects.create(
        head=head, token=b"\x30\x03\x02\x01\x00", gen_time=timezone.now(), serial="1", tsa="x"
    )
    (report,) = audit_chains_verify_signed(str(institution.pk))
    assert [b.reason.rpartition(": ")[2] for b in report.breaks] == ["it is not a TimeStampToken"]


def test_openssl_verifies_the_exported_head_and_its_token(tsa, settings, tmp_path, capsys):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on this machine: the exported token is not checked by OpenSSL")
    institution = InstitutionFactory()
    _events(institution, 3)
    audit_chain_check_task()
    out = tmp_path / "heads"
    call_command("audit_heads_export", str(out), chain=str(institution.pk))
    assert "1 signed head(s) written to" in capsys.readouterr().out
    stem = out / f"head-{institution.pk}-3"
    key = tmp_path / "key.pem"
    key.write_text(signing.public_keys()[0].pem)

    def run(*args):
        return subprocess.run([openssl, *map(str, args)], capture_output=True, text=True)

    ca = settings.VIGIE_TSA_CA_FILE
    checked = run("ts", "-verify", "-data", f"{stem}.json", "-in", f"{stem}.tst", "-token_in",
                  "-CAfile", ca)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout
    shown = run("ts", "-reply", "-in", f"{stem}.tst", "-token_in", "-token_out", "-text")
    assert "Time stamp: " in shown.stdout, shown.stderr
    assert "Nonce: 0x" in shown.stdout
    sig = run("pkeyutl", "-verify", "-pubin", "-inkey", key, "-rawin",
              "-in", f"{stem}.statement.json", "-sigfile", f"{stem}.sig")  # fmt: skip
    assert sig.returncode == 0, sig.stderr
    assert "Signature Verified Successfully" in sig.stdout

    # The time-stamped document holds the signed statement, byte for byte.
    document = json.loads((out / f"{stem.name}.json").read_bytes())
    assert document["statement"].encode() == (out / f"{stem.name}.statement.json").read_bytes()

    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(
        (stem.parent / f"{stem.name}.json").read_bytes().replace(b'"v":1', b'"v":2')
    )
    refused = run("ts", "-verify", "-data", tampered, "-in", f"{stem}.tst", "-token_in",
                  "-CAfile", ca)  # fmt: skip
    assert refused.returncode != 0
    assert "Verification: FAILED" in refused.stdout


@pytest.mark.postgres
def test_a_stored_time_stamp_is_append_only(tsa):
    institution = InstitutionFactory()
    _events(institution, 2)
    audit_chain_check_task()
    stamp = AuditHeadTimestamp.objects.get()
    with pytest.raises(AppendOnlyError):
        AuditHeadTimestamp.objects.filter(pk=stamp.pk).update(tsa="another")
    with pytest.raises(AppendOnlyError):
        stamp.delete()
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (set DATABASE_URL)")
    table = AuditHeadTimestamp._meta.db_table
    for sql in (
        f"UPDATE \"{table}\" SET token = '\\x00'::bytea WHERE id = %s",
        f'DELETE FROM "{table}" WHERE id = %s',
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            with pytest.raises(Exception, match="append-only"):
                cursor.execute(sql, [stamp.pk])
            transaction.set_rollback(True)
    assert bytes(AuditHeadTimestamp.objects.get().token) == bytes(stamp.token)
