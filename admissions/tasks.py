import logging

from celery import shared_task

from admissions.audit import audit_chains_verify


logger = logging.getLogger(__name__)


@shared_task(name="admissions.audit_chain_check", ignore_result=True)
def audit_chain_check_task() -> None:
    """Nightly: recompute every audit chain; a broken chain is logged as critical."""
    for report in audit_chains_verify():
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
