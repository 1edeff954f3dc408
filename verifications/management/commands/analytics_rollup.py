"""Roll up the analytics page's days by hand: what the beat tick does, or, with --rebuild,
every day counted again from the requests (after a restore, or a change of what is counted)."""

from django.core.management.base import BaseCommand, CommandParser

from admissions.models import Institution
from verifications.services.analytics_rollup import analytics_rollup_institution


class Command(BaseCommand):
    help = (
        "Roll up each institution's finished days for the analytics page (what the beat tick "
        "does); --rebuild counts every day again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="Count every day again.")
        parser.add_argument("--institution", type=int, help="Only this institution (id).")

    def handle(
        self,
        *args: object,
        rebuild: bool = False,
        institution: int | None = None,
        **options: object,
    ) -> None:
        institutions = Institution.objects.order_by("id").values_list("id", flat=True)
        if institution is not None:
            institutions = institutions.filter(pk=institution)
        for institution_id in institutions:
            rows = analytics_rollup_institution(institution_id=institution_id, rebuild=rebuild)
            self.stdout.write(f"institution {institution_id}: {rows} day rows written")
