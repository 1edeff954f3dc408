"""Every user-facing string is translatable, and the English catalogue is complete and current."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.core.management import call_command


ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _msgids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_english_catalogue_is_complete():
    call_command("compile_translations", check=True)


def test_english_catalogue_holds_every_string_of_the_sources(tmp_path):
    """Extract the strings of a copy of the sources and compare with the committed catalogue."""
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext (xgettext) is not installed: cannot extract strings")
    for folder in ("admissions", "verifications", "api", "webhooks", "templates"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / "locale").mkdir()
    # Settings without LOCALE_PATHS, so that makemessages writes into the copy, not the repo.
    settings_file = tmp_path / "extract_settings.py"
    settings_file.write_text("from tests.settings import *\nLOCALE_PATHS = []\n")
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "extract_settings",
    }
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "en", "--verbosity", "0"],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=120,
    )
    extracted = _msgids(tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po")
    committed = _msgids(CATALOGUE)
    assert extracted - committed == set(), "run `make messages` and translate the new strings"
    assert committed - extracted == set(), "obsolete strings: run `make messages`"
