"""Any module of the vocabulary and the limiter can be the first a process imports (a spawned
limiter process imports ``verifications.providers.limits`` first): ``admissions/__init__.py``
loads the Celery app, whose beat schedule must not import back into a module still being
imported. A cycle there broke tests/limits/test_multiprocess.py once (verifications.enums →
admissions → admissions.celery → verifications.freshness → verifications.enums)."""

import subprocess
import sys

import pytest


FIRST_IMPORTS = [
    "admissions.enums",
    "admissions.celery",
    "verifications.enums",
    "verifications.freshness",
    "verifications.providers",
    "verifications.providers.limits.base",
    "webhooks.enums",
]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_a_module_imported_first_in_a_fresh_process_imports(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
