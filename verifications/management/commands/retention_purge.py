"""Run the retention purge by hand. Dry run by default: it does the whole purge in a
transaction, reports, and rolls it back; --wet-run keeps it."""

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from verifications.services.retention import retention_purge_tick


class Command(BaseCommand):
    help = (
        "Purge raw evidence and audit events past each institution's retention period "
        "(what the daily beat tick does). Dry run unless --wet-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wet-run", action="store_true", help="Really purge.")

    def handle(self, *args: object, wet_run: bool = False, **options: object) -> None:
        with transaction.atomic():
            report = retention_purge_tick()
            transaction.set_rollback(not wet_run)
        for institution_id, done in sorted(report.items()):
            self.stdout.write(
                f"institution {institution_id}: {done['requests']} requests' evidence, "
                f"{done['attempts']} attempt payloads, {done['audit_events']} audit events"
            )
        if not report:
            self.stdout.write("nothing to purge")
        if not wet_run:
            self.stdout.write("dry run: nothing was changed (use --wet-run to purge)")
