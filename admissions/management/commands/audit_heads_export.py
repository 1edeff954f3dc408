"""``python manage.py audit_heads_export DIR``: each signed head as files a third party checks
with OpenSSL alone (docs/SECURITY.md §The audit trail)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from admissions.audit_heads import head_document
from admissions.infra import signing
from admissions.models import AuditHead


class Command(BaseCommand):
    help = (
        "Write each signed head of the audit chains as files: head-<chain>-<seq>.statement.json "
        "(the signed statement), .sig (its Ed25519 signature), .json (the signed head, the "
        "document its time-stamp covers) and .tst (its RFC 3161 time-stamp token, if any)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="where to write (created if missing)")
        parser.add_argument("--chain", help="Only this chain (an institution id, or 'backoffice').")

    def handle(self, *args: object, **options: object) -> None:
        out = Path(str(options["directory"]))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create {out}: {exc.strerror}") from exc
        heads = AuditHead.objects.select_related("timestamp").order_by("chain", "seq")
        if options["chain"]:
            heads = heads.filter(chain=str(options["chain"]))
        written = stamped = 0
        for head in heads:
            stem = f"head-{head.chain}-{head.seq}"
            (out / f"{stem}.statement.json").write_bytes(head.payload.encode())
            (out / f"{stem}.sig").write_bytes(signing.unb64(head.signature))
            (out / f"{stem}.json").write_bytes(head_document(head))
            if hasattr(head, "timestamp"):
                (out / f"{stem}.tst").write_bytes(bytes(head.timestamp.token))
                stamped += 1
            written += 1
        self.stdout.write(f"{written} signed head(s) written to {out}, {stamped} time-stamped")
