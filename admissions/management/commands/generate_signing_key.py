from django.core.management.base import BaseCommand

from admissions.infra.signing import generate_key


class Command(BaseCommand):
    help = (
        "Print a new Ed25519 key for VIGIE_SIGNING_KEYS (put it first to rotate; keep the old "
        "ones so that the certificates they signed still verify)."
    )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(generate_key())
