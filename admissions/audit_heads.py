"""The audit chains' heads, signed each night, and their check.

A hash chain shows that no row was changed or removed *unless every later row was rehashed*:
someone with write access to the database could rewrite a whole chain consistently. Each night,
after verifying every chain, Vigie signs each intact chain's head (its length and last hash)
with the deployment's Ed25519 key (``admissions.infra.signing``) and keeps the signed statement.
From then on, ``audit_verify`` also checks each signed head: its signature, and that the chain
still has that hash at that row and is at least that long. A rewrite after a signed head,
however consistent, changes the hash at that row; a chain cut short loses the row. Forging a new
head needs the private key, which the database does not hold
(docs/SECURITY.md §The audit trail).

Where a time-stamping authority is configured (``VIGIE_TSA_URL``), each chain's newest signed
head then gets an RFC 3161 time-stamp over its canonical document (``head_document``): the
authority's own signed word that the signed head existed at that time, which neither the
database nor the signing key can forge or move. A failure never holds the signed head back: it
is logged, and the next run asks again for each chain's newest head that has none.
``audit_verify`` checks every stored token against its head and reports its time.
"""

import json
import logging
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from admissions.audit import ChainBreak, ChainReport, audit_chains_verify
from admissions.infra import signing, timestamps
from admissions.models import AuditEvent, AuditHead, AuditHeadTimestamp


logger = logging.getLogger(__name__)


def _statement(chain: str, seq: int, head_hash: str, signed_at: str) -> bytes:
    document = {"v": 1, "chain": chain, "seq": seq, "hash": head_hash, "signed_at": signed_at}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def audit_heads_sign(reports: list[ChainReport]) -> list[AuditHead]:
    """Sign the head of each intact chain of ``reports`` that grew since its last signed head."""
    signed = []
    for report in reports:
        if report.breaks or report.length == 0:
            continue
        if AuditHead.objects.filter(chain=report.chain, seq=report.length).exists():
            continue
        signed_at = timezone.now().isoformat(timespec="seconds")
        data = _statement(report.chain, report.length, report.head_hash, signed_at)
        signature = signing.sign(data)
        try:
            with transaction.atomic():
                head = AuditHead.objects.create(
                    chain=report.chain,
                    seq=report.length,
                    hash=report.head_hash,
                    signed_at=signed_at,
                    payload=data.decode(),
                    key_id=signature.key_id,
                    signature=signing.b64(signature.value),
                )
        except IntegrityError:  # another beat signed the same head meanwhile
            continue
        signed.append(head)
    return signed


def head_document(head: AuditHead) -> bytes:
    """The signed head as one canonical JSON document, the bytes its time-stamp covers: the
    signed statement (as the string that was signed), the key's id and the signature."""
    document = {"v": 1, "statement": head.payload, "key_id": head.key_id, "sig": head.signature}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def audit_heads_timestamp() -> list[AuditHeadTimestamp]:
    """Time-stamp each chain's newest signed head that has no time-stamp yet (when
    ``VIGIE_TSA_URL`` is set). An older head left without one is covered by its chain's newer
    head, whose hash commits to every row before it. The first failure (the authority down,
    refusing, or answering what does not verify) is logged and ends the run: the next run
    tries again."""
    if not timestamps.enabled():
        return []
    newest = AuditHead.objects.filter(chain=OuterRef("chain")).order_by("-seq").values("seq")
    heads = list(
        AuditHead.objects.filter(seq=Subquery(newest[:1]), timestamp__isnull=True).order_by("chain")
    )
    done = []
    for n, head in enumerate(heads):
        try:
            stamp = timestamps.request(head_document(head))
        except Exception as exc:  # whatever it is, the signed head stands: log, try next run
            reason = str(exc) if isinstance(exc, timestamps.TimestampError) else repr(type(exc))
            logger.warning(
                "audit chain %s: the head signed at seq %s got no time-stamp: %s; %s head(s) "
                "wait for the next run",
                head.chain,
                head.seq,
                reason,
                len(heads) - n,
            )
            break
        try:
            with transaction.atomic():
                done.append(
                    AuditHeadTimestamp.objects.create(
                        head=head,
                        token=stamp.token,
                        gen_time=stamp.gen_time,
                        serial=str(stamp.serial)[:64],
                        tsa=stamp.tsa[:300],
                    )
                )
        except IntegrityError:  # another beat time-stamped it meanwhile
            continue
    return done


def audit_heads_untimestamped() -> int:
    """How many chains' newest signed head has no time-stamp (0 without an authority)."""
    if not timestamps.enabled():
        return 0
    newest = AuditHead.objects.filter(chain=OuterRef("chain")).order_by("-seq").values("seq")
    return AuditHead.objects.filter(seq=Subquery(newest[:1]), timestamp__isnull=True).count()


def _timestamp_checks(chain: str, heads: list[AuditHead]) -> tuple[list[ChainBreak], list[str]]:
    """Each stored time-stamp of ``heads`` (authentic ones) checked against its head."""
    stamped = [head for head in heads if hasattr(head, "timestamp")]
    if not stamped:
        return [], []
    try:
        timestamps.trusted_certificates()
    except timestamps.TimestampError as exc:
        return [], [f"{len(stamped)} time-stamp(s) not checked: {exc}"]
    breaks, verified = [], []
    for head in stamped:
        try:
            stamp = timestamps.verify(bytes(head.timestamp.token), head_document(head))
        except timestamps.TimestampError as exc:
            when = head.signed_at.isoformat(timespec="seconds")
            reason = f"the time-stamp of the head signed on {when} does not verify: {exc}"
            breaks.append(ChainBreak(chain, 0, head.seq, reason))
            continue
        verified.append((head.seq, stamp.gen_time, stamp.tsa))
    notes = []
    if verified:
        seq, gen_time, tsa = max(verified)
        notes.append(
            f"{len(verified)} signed head(s) time-stamped; the latest, seq {seq}, at "
            f"{_utc(gen_time)} by {tsa}"
        )
    return breaks, notes


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _head_checks(chain: str) -> tuple[list[ChainBreak], list[str]]:
    """What the signed heads of ``chain`` say about it: breaks, and lines to report."""
    heads = list(AuditHead.objects.filter(chain=chain).select_related("timestamp").order_by("seq"))
    if not heads:
        return [], []
    seqs = [head.seq for head in heads]
    breaks = []
    authentic_heads = []
    rows = dict(AuditEvent.objects.filter(chain=chain, seq__in=seqs).values_list("seq", "hash"))
    ids = dict(AuditEvent.objects.filter(chain=chain, seq__in=seqs).values_list("seq", "pk"))
    first = AuditEvent.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True)
    first_kept = first.first() or 0
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", flat=True)
    length = last.first() or 0
    for head in heads:
        data = head.payload.encode()
        try:
            statement = json.loads(data)
            value = signing.unb64(head.signature)
        except ValueError:
            statement, value = {}, b""
        authentic = signing.verify(data, signing.Signature(head.key_id, value)) and (
            statement.get("chain"),
            statement.get("seq"),
            statement.get("hash"),
        ) == (head.chain, head.seq, head.hash)
        when = head.signed_at.isoformat(timespec="seconds")
        if not authentic:
            breaks.append(
                ChainBreak(chain, 0, head.seq, f"the head signed on {when} does not verify")
            )
            continue
        authentic_heads.append(head)
        if head.seq > length:
            breaks.append(
                ChainBreak(
                    chain,
                    0,
                    head.seq,
                    f"the chain ends at seq {length}, before its head signed on {when}",
                )
            )
        elif head.seq >= first_kept and rows.get(head.seq) != head.hash:
            breaks.append(
                ChainBreak(
                    chain,
                    ids.get(head.seq, 0),
                    head.seq,
                    f"the chain was rewritten after its head signed on {when}: this row's hash is "
                    "not the signed one",
                )
            )
    stamp_breaks, notes = _timestamp_checks(chain, authentic_heads)
    return breaks + stamp_breaks, notes


def audit_chains_verify_signed(chain: str | None = None) -> list[ChainReport]:
    """``audit_chains_verify``, and each chain's signed heads (and their time-stamps) checked
    against it."""
    reports = audit_chains_verify(chain)
    chains = {report.chain for report in reports}
    heads = AuditHead.objects.order_by().values_list("chain", flat=True).distinct()
    missing = sorted(set(heads.filter(chain=chain) if chain else heads) - chains)
    reports += [ChainReport(key, 0, "", []) for key in missing]  # a chain deleted whole
    checked = []
    for r in sorted(reports, key=lambda r: r.chain):
        breaks, notes = _head_checks(r.chain)
        checked.append(ChainReport(r.chain, r.length, r.head_hash, [*r.breaks, *breaks], notes))
    return checked
