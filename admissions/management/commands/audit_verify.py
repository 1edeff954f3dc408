from django.core.management.base import BaseCommand, CommandError, CommandParser

from admissions.audit_heads import audit_chains_verify_signed


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chains, check them against their signed heads (and "
        "the heads' RFC 3161 time-stamps), and say which row breaks them. "
        "Exit status 1 when any chain is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", help="Only this chain (an institution id, or 'backoffice').")

    def handle(self, *args: object, chain: str | None = None, **options: object) -> None:
        reports = audit_chains_verify_signed(chain)
        broken = 0
        for report in reports:
            if report.breaks:
                broken += 1
                for brk in report.breaks:
                    where = (
                        f"row id={brk.event_id} seq={brk.seq}" if brk.event_id else f"seq={brk.seq}"
                    )
                    self.stderr.write(f"chain {brk.chain}: {where}: {brk.reason}")
            else:
                self.stdout.write(
                    f"chain {report.chain}: {report.length} events, intact, "
                    f"head {report.head_hash[:16]}"
                )
            for note in report.notes:
                self.stdout.write(f"chain {report.chain}: {note}")
        if not reports:
            self.stdout.write("no audit events yet")
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken", returncode=1)
