"""The tasks that the code sends by name (to keep its imports one-way: ``tests/test_imports.py``)
are the tasks the workers run: registered under that name in every process, by the apps'
``ready``, with no import of a tasks module by the test."""

import subprocess
import sys
from pathlib import Path

import pytest
from celery import current_app

from admissions.celery import app
from api.tasks import IDEMPOTENCY_PURGE
from verifications.dashboard_counts import RECOUNT_TASK
from verifications.enqueue import DISPATCH, VERIFICATION_RUN


SENT_BY_NAME = [VERIFICATION_RUN, DISPATCH, RECOUNT_TASK, IDEMPOTENCY_PURGE]


@pytest.mark.parametrize("name", SENT_BY_NAME)
def test_a_task_sent_by_name_is_registered(name):
    task = current_app.tasks[name]
    assert task.name == name


def test_a_fresh_django_process_has_them_registered_before_any_send():
    names = repr(SENT_BY_NAME)
    code = (
        "import django; django.setup(); from celery import current_app; "
        f"print(all(name in current_app.tasks for name in {names}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "True", out.stderr


def test_every_beat_entry_names_a_registered_task():
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in current_app.tasks, entry["task"]
