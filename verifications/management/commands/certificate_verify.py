"""Check a certificate PDF offline: its signed payload against the deployment's public keys."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from admissions.infra import signing
from verifications.certificates import payload as certificate_payload
from verifications.certificates import pdf


class Command(BaseCommand):
    help = (
        "Check that a certificate PDF was signed by this deployment's key (or by the public keys "
        "in --keys, a copy of /.well-known/vigie-signing-keys.json), and print what it states. "
        "Exit status 0: authentic; 1: not authentic or not a certificate. Says nothing of "
        "revocation: that is the public page's answer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the certificate PDF")
        parser.add_argument(
            "--keys",
            type=Path,
            help="a JSON file of public keys as published (default: this deployment's keys)",
        )
        parser.add_argument("--json", action="store_true", help="print the payload as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            payload_bytes, signature_bytes = pdf.read(data)
            payload = certificate_payload.parse(payload_bytes)
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        keys = self._keys(options["keys"]) if options["keys"] else None
        signature = signing.Signature(key_id=str(payload.get("key_id", "")), value=signature_bytes)
        if not signing.verify(payload_bytes, signature, keys):
            raise CommandError(
                f"{path}: NOT AUTHENTIC: the signature does not match the payload with key "
                f"{signature.key_id or '(none)'} (altered, or signed by another deployment)"
            )
        if options["json"]:
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        check = payload["check"]
        self.stdout.write(
            f"{path}: authentic certificate {payload['number']}, signed by key {signature.key_id}\n"
            f"  institution: {payload['institution'].get('name')}\n"
            f"  applicant:   {payload['applicant'].get('name')} "
            f"({payload['applicant'].get('file_reference')})\n"
            f"  claim:       {payload['claim'].get('kind')}\n"
            f"  verdict:     {check.get('verdict')} ({check.get('reason_code') or 'by a person'})\n"
            f"  checked at:  {check.get('at')}, issued at {payload['issued_at']}\n"
            f"  revocation:  ask {payload['verify_url']}"
        )

    def _keys(self, path: Path) -> list[signing.PublicKey]:
        try:
            document = json.loads(path.read_text())
            return [
                signing.PublicKey(key_id=key["key_id"], raw=signing.unb64(key["public_key"]))
                for key in document["keys"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{path}: not a public keys document ({exc})") from exc
