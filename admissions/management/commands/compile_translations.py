"""Compile the gettext catalogues (locale/*/LC_MESSAGES/*.po -> .mo) in pure Python.

Django's `compilemessages` needs GNU gettext's msgfmt; this uses Babel so that `make run` works
on a machine with nothing but Python. Refuses catalogues with untranslated or fuzzy entries.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _untranslated(catalog) -> list[str]:
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


class Command(BaseCommand):
    help = "Compile translation catalogues with Babel (no GNU gettext needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Only check completeness.")

    def handle(self, *args: object, check: bool = False, **options: object) -> None:
        problems = []
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                with po_path.open("rb") as po_file:
                    catalog = read_po(po_file)
                missing = _untranslated(catalog)
                if missing:
                    problems.append(f"{po_path}: {len(missing)} untranslated, e.g. {missing[0]!r}")
                    continue
                if not check:
                    with po_path.with_suffix(".mo").open("wb") as mo_file:
                        write_mo(mo_file, catalog)
                self.stdout.write(f"{po_path}: {len(catalog)} messages", ending="\n")
        if problems:
            raise CommandError("incomplete catalogues:\n" + "\n".join(problems))
