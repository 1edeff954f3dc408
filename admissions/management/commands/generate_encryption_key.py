from django.core.management.base import BaseCommand

from admissions.infra.crypto import generate_key


class Command(BaseCommand):
    help = "Print a new key for FIELD_ENCRYPTION_KEY (put it first to rotate; keep the old ones)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(generate_key())
