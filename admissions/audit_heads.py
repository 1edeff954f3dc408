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
"""

import json
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.utils import timezone

from admissions.audit import ChainBreak, ChainReport, audit_chains_verify
from admissions.infra import signing
from admissions.models import AuditEvent, AuditHead


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


def _head_breaks(chain: str) -> Iterator[ChainBreak]:
    heads = AuditHead.objects.filter(chain=chain).order_by("seq")
    if not heads.exists():
        return
    rows = dict(
        AuditEvent.objects.filter(chain=chain, seq__in=heads.values("seq")).values_list(
            "seq", "hash"
        )
    )
    ids = dict(
        AuditEvent.objects.filter(chain=chain, seq__in=heads.values("seq")).values_list("seq", "pk")
    )
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
            yield ChainBreak(chain, 0, head.seq, f"the head signed on {when} does not verify")
            continue
        if head.seq > length:
            yield ChainBreak(
                chain,
                0,
                head.seq,
                f"the chain ends at seq {length}, before its head signed on {when}",
            )
        elif head.seq >= first_kept and rows.get(head.seq) != head.hash:
            yield ChainBreak(
                chain,
                ids.get(head.seq, 0),
                head.seq,
                f"the chain was rewritten after its head signed on {when}: this row's hash is "
                "not the signed one",
            )


def audit_chains_verify_signed(chain: str | None = None) -> list[ChainReport]:
    """``audit_chains_verify``, and each chain's signed heads checked against it."""
    reports = audit_chains_verify(chain)
    chains = {report.chain for report in reports}
    heads = AuditHead.objects.order_by().values_list("chain", flat=True).distinct()
    missing = sorted(set(heads.filter(chain=chain) if chain else heads) - chains)
    reports += [ChainReport(key, 0, "", []) for key in missing]  # a chain deleted whole
    return [
        ChainReport(r.chain, r.length, r.head_hash, [*r.breaks, *_head_breaks(r.chain)])
        for r in sorted(reports, key=lambda r: r.chain)
    ]
