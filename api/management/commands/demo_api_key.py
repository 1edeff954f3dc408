"""Give the demo institution an API key holding every scope, and write it, once, next to the
demo logins (``var/demo-logins.txt``): only its digest is stored, so the key is known only
now. ``make run`` calls it after ``demo``; docs/API.md's examples use it."""

import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from admissions.enums import Role
from admissions.models import Institution, User
from api.enums import Scope
from api.models import ApiKey
from api.services import api_key_create
from sandbox.population import STAGING_RECIPIENT


# The demo command's main institution (verifications/management/commands/demo.py).
DEMO_SIRET = STAGING_RECIPIENT
DEMO_KEY_NAME = "Démo (make run)"


class Command(BaseCommand):
    help = "Create the demo institution's API key (every scope) and add it to the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the demo key exists."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("refusing to create a demo key with DEBUG off")
        institution = Institution.objects.filter(siret=DEMO_SIRET).first()
        if institution is None:
            raise CommandError("no demo institution: run `manage.py demo` first")
        if ApiKey.objects.filter(institution=institution, name=DEMO_KEY_NAME).exists():
            if options["if_empty"]:
                self.stdout.write("demo API key already present")
                return
            raise CommandError("the demo API key exists (its secret is in var/demo-logins.txt)")
        admin = User.objects.filter(
            institution=institution, role=Role.INSTITUTION_ADMIN, is_active=True
        ).first()
        if admin is None:
            raise CommandError("the demo institution has no admin")
        created = api_key_create(
            acting_user=admin,
            name=DEMO_KEY_NAME,
            scopes=Scope.values,
            expires_at=timezone.now() + dt.timedelta(days=365),
        )
        path = Path(settings.VAR_DIR) / "demo-logins.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as logins:
            logins.write(
                f"  Demo API key (all scopes, {institution.name}; docs/API.md):\n"
                f"    {created.secret}\n"
            )
        os.chmod(path, 0o600)
        self.stdout.write(self.style.SUCCESS("demo API key written to " + str(path)))
