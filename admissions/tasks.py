import logging

from celery import shared_task

from admissions.audit_heads import (
    audit_chains_verify_signed,
    audit_heads_sign,
    audit_heads_timestamp,
    audit_heads_untimestamped,
)
from admissions.ops import heartbeat


logger = logging.getLogger(__name__)


@shared_task(name="admissions.audit_chain_check", ignore_result=True)
def audit_chain_check_task() -> None:
    """Nightly: recompute every audit chain and check its signed heads; a broken chain is logged
    as critical; each intact chain's head is then signed, and time-stamped where a time-stamping
    authority is configured (``admissions.audit_heads``). The time and the outcome are recorded
    for /metrics (``vigie_audit_chain_*``, ``vigie_audit_heads_untimestamped``)."""
    reports = audit_chains_verify_signed()
    for report in reports:
        for brk in report.breaks:
            logger.critical(
                "audit chain %s broken at row id=%s seq=%s: %s",
                brk.chain,
                brk.event_id,
                brk.seq,
                brk.reason,
            )
        logger.info(
            "audit chain %s: %s events, head %s", report.chain, report.length, report.head_hash
        )
    for head in audit_heads_sign(reports):
        logger.info("audit chain %s: head %s signed at seq %s", head.chain, head.hash, head.seq)
    for stamp in audit_heads_timestamp():
        logger.info(
            "audit chain %s: the head signed at seq %s time-stamped at %s",
            stamp.head.chain,
            stamp.head.seq,
            stamp.gen_time.isoformat(timespec="seconds"),
        )
    heartbeat.record(
        heartbeat.AUDIT_CHAIN_CHECK,
        intact=not any(report.breaks for report in reports),
        chains=len(reports),
        untimestamped=audit_heads_untimestamped(),
    )
