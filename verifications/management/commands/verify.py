"""`python manage.py verify <kind> ...`: one check, now, through the same providers, limiter,
retry rules and verdicts as the workers; prints the verdict (JSON with --json).

Exit status 0 whatever the verdict; 2 with one line on standard error for invalid input, which
is never sent upstream. Messages are in English.
"""

import getpass
import json
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import translation

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.identity import clean_identity
from admissions.models import Institution
from verifications.claims import (
    CertificationDeclared,
    CvecDeclared,
    Declared,
    ScolariteDeclared,
    clean_declared,
    declared_as,
)
from verifications.enums import ClaimKind
from verifications.pipeline.questions import recipient_for
from verifications.providers.base import (
    CertificationQuery,
    CovoiturageQuery,
    CvecQuery,
    Identity,
    ProviderConfig,
    Query,
    ScolariteQuery,
)
from verifications.services.check import CheckResult, check_now
from verifications.verdicts import render_note, render_reason


class InvalidInput(Exception):
    pass


def _first_error(exc: ValidationError, options: dict[str, str]) -> str:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        option = options.get(field, field)
        return f"{option}: {errors[0].messages[0]}"
    return exc.messages[0]


class Command(BaseCommand):
    help = "Verify one claim against its government source now, and print the verdict."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

        def add(name: str, help_text: str) -> ArgumentParser:
            p = sub.add_parser(name, help=help_text)
            p.add_argument("--institution", help="SIRET or id of the institution checking.")
            p.add_argument("--json", action="store_true", help="Print JSON.")
            p.add_argument(
                "--max-wait",
                type=float,
                default=10.0,
                help="Longest in-process wait (seconds) for a retry or a rate-limit slot.",
            )
            return p

        p = add("scolarite", "Pupil enrolment (API Particulier, statut élève scolarisé).")
        p.add_argument("--nom", required=True, help="Birth name.")
        p.add_argument(
            "--prenoms",
            required=True,
            help='Given names in civil-status order, comma-separated ("Marie Davida" is one).',
        )
        p.add_argument("--sexe", required=True, choices=["F", "M", "f", "m"])
        p.add_argument("--date-naissance", required=True, help="YYYY-MM-DD or DD/MM/YYYY.")
        p.add_argument("--uai", required=True, help="Establishment UAI, e.g. 0132733A.")
        p.add_argument("--annee-scolaire", required=True, help="2025 or 2025-2026.")

        p = add("cvec", "CVEC attestation (CNOUS).")
        p.add_argument("--code", required=True, help="Attestation number.")
        p.add_argument("--nom", required=True, help="Birth name of the holder.")
        p.add_argument("--date-naissance", help="Birth date, compared with the holder's.")
        p.add_argument("--campagne", help="Campaign year, e.g. 2025.")

        p = add("certification", "Certification (Certif Info).")
        p.add_argument("--code", required=True, help="RNCP12345, RS1234 or a Certif Info id.")
        p.add_argument("--niveau-min", help="Minimum European level required (1-8).")

        p = add("covoiturage", "Carpooling attestation (Registre de preuve de covoiturage).")
        p.add_argument("--uuid", required=True, help="Attestation UUID.")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        with translation.override("en"):
            try:
                institution = self._institution(options.get("institution"))
                identity, declared, query = self._inputs(kind, options, institution)
            except InvalidInput as exc:
                raise CommandError(str(exc), returncode=2) from exc
            source = ClaimKind(kind).source
            token = None
            if institution is not None:
                credential = institution.credentials.filter(source=source).first()
                token = credential.token if credential else None
            config = ProviderConfig.from_settings(source, token=token)
            outcome = check_now(
                kind=kind,
                declared=declared,
                identity=identity,
                query=query,
                config=config,
                institution=institution,
                max_wait=options["max_wait"],
            )
            payload = self._payload(kind, source, outcome)
            self._audit(institution, kind, outcome)
        if options["json"]:
            self.stdout.write(json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False))
        else:
            self._print(payload)

    # --- input ----------------------------------------------------------------------------

    def _institution(self, value: str | None) -> Institution | None:
        if not value:
            return None
        lookup = {"siret": value} if len(value) == 14 else {"pk": value}
        try:
            return Institution.objects.get(**lookup)
        except (Institution.DoesNotExist, ValueError):
            message = f"--institution: no institution with SIRET or id {value!r}"
            raise InvalidInput(message) from None

    def _inputs(
        self, kind: str, o: dict[str, Any], institution: Institution | None
    ) -> tuple[Identity, Declared, Query]:
        names = {
            "birth_name": "--nom",
            "first_names": "--prenoms",
            "sex": "--sexe",
            "birth_date": "--date-naissance",
            "uai": "--uai",
            "school_year": "--annee-scolaire",
            "code": "--code",
            "campaign": "--campagne",
            "min_level": "--niveau-min",
            "uuid": "--uuid",
        }
        raw_identity: dict[str, Any] = {}
        if o.get("nom") is not None:
            raw_identity["birth_name"] = o["nom"]
        if o.get("prenoms") is not None:
            raw_identity["first_names"] = o["prenoms"]
        if o.get("sexe") is not None:
            raw_identity["sex"] = o["sexe"]
        if o.get("date_naissance"):
            raw_identity["birth_date"] = o["date_naissance"]
        match kind:
            case ClaimKind.SCOLARITE:
                raw_declared = {"uai": o["uai"], "school_year": o["annee_scolaire"]}
            case ClaimKind.CVEC:
                raw_declared = {"code": o["code"], "campaign": o.get("campagne")}
            case ClaimKind.CERTIFICATION:
                raw_declared = {"code": o["code"], "min_level": o.get("niveau_min")}
            case _:
                raw_declared = {"uuid": o["uuid"]}
        try:
            ident = clean_identity(raw_identity, partial=True)
            declared = declared_as(kind, clean_declared(kind, raw_declared))
        except ValidationError as exc:
            raise InvalidInput(_first_error(exc, names)) from None
        identity = Identity(
            birth_name=ident.get("birth_name", ""),
            usage_name="",
            first_names=tuple(ident.get("first_names", ())),
            sex=ident.get("sex", ""),
            birth_date=ident.get("birth_date"),
        )
        query: Query
        match declared:
            case ScolariteDeclared():
                recipient = recipient_for(institution) if institution else ""
                recipient = recipient or settings.API_PARTICULIER_RECIPIENT
                if not recipient:
                    raise InvalidInput(
                        "--institution: API Particulier needs a recipient SIRET "
                        "(give --institution or set API_PARTICULIER_RECIPIENT)"
                    )
                query = ScolariteQuery(
                    identity=identity,
                    uai=declared.uai,
                    school_year=declared.school_year,
                    recipient=recipient,
                )
            case CvecDeclared():
                query = CvecQuery(
                    code=declared.code, birth_name=identity.birth_name, campaign=declared.campaign
                )
            case CertificationDeclared():
                query = CertificationQuery(code=declared.code)
            case _:
                query = CovoiturageQuery(uuid=declared.uuid)
        return identity, declared, query

    # --- output ---------------------------------------------------------------------------

    def _payload(self, kind: str, source: str, outcome: CheckResult) -> dict[str, Any]:
        decision = outcome.decision
        last = outcome.calls[-1] if outcome.calls else None
        return {
            "kind": kind,
            "verdict": str(decision.verdict),
            "reason": render_reason(decision.reason_code, decision.reason_params, language="en"),
            "reason_code": decision.reason_code,
            "source": {
                "name": str(source),
                "found": outcome.result.found if outcome.result is not None else None,
                "http_status": last.http_status if last else None,
                "error_code": last.provider_error_code if last else "",
                "upstream_request_id": last.upstream_request_id if last else "",
                "calls": len(outcome.calls),
                "evidence": decision.evidence,
                "notes": [render_note(code, language="en") for code in decision.note_codes],
            },
            "diff": decision.diff,
            "valid_until": decision.valid_until,
        }

    def _print(self, payload: dict[str, Any]) -> None:
        self.stdout.write(f"{payload['kind']}: {payload['verdict']} — {payload['reason']}")
        for row in payload["diff"]:
            mark = "=" if row.get("match") else "≠"
            self.stdout.write(
                f"  {mark} {row.get('field')}: declared {row.get('declared')!s} / "
                f"source {row.get('source')!s}"
            )
        for note in payload["source"]["notes"]:
            self.stdout.write(f"  note: {note}")

    def _audit(self, institution: Institution | None, kind: str, outcome: CheckResult) -> None:
        with transaction.atomic():
            audit_record(
                action=AuditAction.VERDICT_RECORDED,
                actor=None,
                actor_label=f"cli:{getpass.getuser()}"[:150],
                institution=institution,
                object_type="cli_check",
                object_id=kind,
                purpose="vérification en ligne de commande",
                details={
                    "kind": kind,
                    "verdict": str(outcome.decision.verdict),
                    "reason": outcome.decision.reason_code,
                    "calls": len(outcome.calls),
                },
            )
