"""Seed a demo: two institutions, one user per role, and a few hundred applicants whose claims
the sandbox knows (the published API Particulier staging identities and the generated
population of ``sandbox.population``)."""

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from admissions import services
from admissions.enums import Role
from admissions.models import Institution, User
from sandbox.population import (
    STAGING_PUPILS,
    STAGING_RECIPIENT,
    CertificationOutcome,
    person,
)
from verifications.enums import ClaimKind
from verifications.models import Claim
from verifications.services.batches import batch_verification_launch


DEMO_SIRET = STAGING_RECIPIENT  # the staging `recipient`: API Particulier's own examples use it
SECOND_SIRET = "73282932000074"
USERS = (
    ("agent", Role.CLERK, "Camille", "Agent"),
    ("superviseur", Role.SUPERVISOR, "Dominique", "Superviseur"),
    ("admin-etab", Role.INSTITUTION_ADMIN, "Claude", "Administrateur"),
)


# One applicant in TYPO_EVERY is recorded with the kind of slip a clerk makes (day and month of
# birth swapped, given names in the wrong order): the sandbox does not know them as typed, and
# the claim card offers the variant that finds them (verifications.rematch).
TYPO_EVERY = 20


def _as_typed(i: int, identity: dict) -> dict:
    """A person's identity as the demo records it: as it is, or with a clerk's slip."""
    if i % TYPO_EVERY == 3:
        born = identity["birth_date"]
        if born.day <= 12 and born.day != born.month:
            return {**identity, "birth_date": born.replace(month=born.day, day=born.month)}
    if i % TYPO_EVERY == 13 and len(identity["first_names"]) >= 2:
        names = identity["first_names"]
        return {**identity, "first_names": [names[1], names[0], *names[2:]]}
    return identity


class Command(BaseCommand):
    help = (
        "Create demo institutions, users (passwords printed) and applicants known to the sandbox."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--applicants", type=int, default=300, help="Applicants of the main institution."
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the demo already exists."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Allow running with DEBUG off (never in production).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "refusing to seed demo data with DEBUG off (use --force on a test system)"
            )
        if Institution.objects.filter(siret=DEMO_SIRET).exists():
            if options["if_empty"]:
                self.stdout.write("demo data already present")
                return
            raise CommandError(f"demo data already present (institution with SIRET {DEMO_SIRET})")
        count = int(options["applicants"])
        if count < len(STAGING_PUPILS):
            raise CommandError(f"--applicants must be at least {len(STAGING_PUPILS)}")
        logins = []
        with transaction.atomic():
            main = services.institution_create(
                name="Université de démonstration", siret=DEMO_SIRET, uai="0313124C"
            )
            second = services.institution_create(name="IUT de démonstration", siret=SECOND_SIRET)
            for username, role, first, last in USERS:
                logins.append(self._user(username, role, first, last, main))
            logins.append(self._user("agent-iut", Role.CLERK, "Alex", "Iut", second))
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(
                username="backoffice", password=password, email="backoffice@example.org"
            )
            logins.append(("backoffice", password, "back-office (Django admin)", "—"))
            clerk = User.objects.get(username="agent")
            self._staging_applicants(clerk)
            self._population_applicants(clerk, start=0, count=count - len(STAGING_PUPILS))
            self._population_applicants(
                User.objects.get(username="agent-iut"), start=50_000, count=20
            )
            if not options.get("no_verify"):
                for institution in (main, second):
                    self._verify_all(institution)
        self._write_logins(logins)
        self.stdout.write(self.style.SUCCESS(f"demo ready: {count} + 20 applicants"))
        self.stdout.write(Path(self._logins_path()).read_text())

    def _user(
        self, username: str, role: Role, first: str, last: str, institution: Institution
    ) -> tuple:
        password = secrets.token_urlsafe(12)
        services.user_create(
            username=username,
            password=password,
            institution=institution,
            role=role,
            first_name=first,
            last_name=last,
            email=f"{username}@example.org",
        )
        return (username, password, str(role.label), institution.name)

    def _staging_applicants(self, clerk: User) -> None:
        for n, pupil in enumerate(STAGING_PUPILS, start=1):
            services.applicant_create(
                acting_user=clerk,
                identity={
                    "file_reference": f"STG-{n:03d}",
                    "birth_name": pupil.birth_name,
                    "first_names": list(pupil.first_names),
                    "sex": pupil.sex,
                    "birth_date": pupil.birth_date,
                },
                claims=[
                    (ClaimKind.SCOLARITE, {"uai": pupil.uai, "school_year": pupil.school_year})
                ],
            )

    def _population_applicants(self, clerk: User, *, start: int, count: int) -> None:
        for i in range(start, start + count):
            p = person(i)
            claims: list[tuple[str, dict]] = [
                (ClaimKind.SCOLARITE, {"uai": p.uai, "school_year": p.school_year}),
                (ClaimKind.CVEC, {"code": p.cvec_code, "campaign": p.cvec_campaign}),
            ]
            if i % 2 == 0:
                level: int | None = p.certification_min_level
                if p.certification == CertificationOutcome.UNKNOWN:
                    level = None
                claims.append(
                    (ClaimKind.CERTIFICATION, {"code": p.certification_code, "min_level": level})
                )
            if i % 4 == 1:
                claims.append((ClaimKind.COVOITURAGE, {"uuid": p.covoiturage_uuid}))
            services.applicant_create(
                acting_user=clerk,
                identity=_as_typed(
                    i,
                    {
                        "file_reference": p.file_reference,
                        "birth_name": p.birth_name,
                        "usage_name": p.usage_name,
                        "first_names": list(p.first_names),
                        "sex": p.sex,
                        "birth_date": p.birth_date,
                        "ine": p.ine,
                    },
                ),
                claims=claims,
            )

    def _verify_all(self, institution: Institution) -> None:
        """A cohort verification of every claim, as a supervisor would launch it: the workers
        work through it at the sandbox's rates once `make run` has started them."""
        supervisor = User.objects.filter(institution=institution).order_by("-role").first()
        if supervisor is None:  # never: the institution was made with its users just before
            raise CommandError("the demo institution has no user")
        claims = Claim.objects.filter(institution=institution).select_related("institution")
        batch_verification_launch(
            acting_user=supervisor, claims=claims, label="Démo : vérification initiale"
        )

    @staticmethod
    def _logins_path() -> Path:
        return Path(settings.VAR_DIR) / "demo-logins.txt"

    def _write_logins(self, logins: list[tuple]) -> None:
        lines = ["  Demo logins (identifiant / mot de passe / rôle / établissement):"]
        lines += [f"    {u:<12} {p:<18} {r} — {i}" for u, p, r, i in logins]
        path = self._logins_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
