"""``python manage.py sandbox``: serve the local stand-in of the four government APIs."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.knobs import KnobError, Knobs, load_file
from sandbox.server import DEFAULT_THREADS, serve


class Command(BaseCommand):
    help = (
        "Serve the sandbox standing in for API Particulier, CVEC, Certif Info and the "
        "covoiturage register (see sandbox/README.md)."
    )
    # The sandbox never touches Vigie's database or apps: skip the checks, start fast.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
        parser.add_argument("--port", type=int, default=8001, help="port; 0 picks a free one")
        parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="worker threads")
        parser.add_argument("--config", help="start-up knobs, a YAML or JSON file")
        parser.add_argument(
            "--admin-secret",
            default=os.environ.get("VIGIE_SANDBOX_ADMIN_SECRET", ""),
            help="lets non-loopback clients use /_sandbox/ with the X-Sandbox-Admin header",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["threads"] < 1:
            raise CommandError("--threads must be at least 1")
        try:
            knobs = load_file(options["config"]) if options["config"] else Knobs()
        except (OSError, ValueError, KnobError) as exc:
            raise CommandError(f"invalid --config: {exc}") from exc

        def announce(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        serve(
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            knobs=knobs,
            admin_secret=options["admin_secret"],
            announce=announce,
        )
