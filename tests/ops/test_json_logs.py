"""VIGIE_LOG_FORMAT=json: one JSON object per line, with the ids that let a log pipeline follow a
clerk's click to the upstream call, and the same redaction as the plain format.

The flow test runs a real Celery worker (Celery's own test worker, in a thread, on the
in-memory broker the tests use): the clerk's click sends the task with the request id in its
headers, the worker runs it against the sandbox over HTTP, and every log record of both sides
goes through a handler built as ``LOGGING`` builds the console one.
"""

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from admissions.celery import app
from admissions.ops.context import LogContext
from admissions.ops.jsonlog import JsonFormatter
from sandbox.population import (
    CertificationOutcome,
    CovoiturageOutcome,
    CvecOutcome,
    ScolariteOutcome,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.security.test_log_privacy import _forbidden_strings
from tests.verifications.helpers import claim_for, person_with
from verifications.enums import ClaimKind, RequestState
from verifications.models import VerificationRequest


ROOT = Path(__file__).resolve().parents[2]


class JsonLog:
    """Every record, at DEBUG, through a handler made as LOGGING makes the console one with
    VIGIE_LOG_FORMAT=json (``test_the_json_format_is_what_the_settings_configure`` checks that
    LOGGING does so)."""

    NAMES = ("", "urllib3", "requests", "verifications", "admissions", "django", "celery")

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(LogContext())
        self.handler.setFormatter(JsonFormatter())
        self.levels = {name: logging.getLogger(name).level for name in self.NAMES}

    def install(self) -> None:
        """(Again after a Celery worker starts: its Django fixup runs django.setup(), whose
        dictConfig replaces the root logger's handlers.)"""
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)
        for name in self.NAMES:
            logging.getLogger(name).setLevel(logging.DEBUG)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self.handler)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)

    def getvalue(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def json_log():
    log = JsonLog()
    log.install()
    yield log
    log.remove()


def _lines(stream: JsonLog) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_json_format_is_what_the_settings_configure(tmp_path):
    """A fresh process with VIGIE_LOG_FORMAT=json writes JSON lines to stderr."""
    script = (
        "import django, logging; django.setup()\n"
        "from admissions.ops import context\n"
        "context.bind(request_id='req-0123456789', user_id=7)\n"
        "logging.getLogger('verifications.providers').info(\n"
        "    'cvec GET /api/attestation/{code} -> 200 in 3 ms',\n"
        "    extra={'source': 'cvec', 'upstream_request_id': 'up-1', 'request': object()})\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "admissions.settings",
        "VIGIE_LOG_FORMAT": "json",
        "VIGIE_VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stderr.strip().splitlines()[-1])
    assert entry["level"] == "INFO"
    assert entry["logger"] == "verifications.providers"
    assert entry["message"] == "cvec GET /api/attestation/{code} -> 200 in 3 ms"
    assert entry["request_id"] == "req-0123456789"
    assert entry["user_id"] == 7
    assert entry["source"] == "cvec"
    assert entry["upstream_request_id"] == "up-1"
    assert "request" not in entry  # extras outside the whitelist are left out
    assert entry["time"].endswith("+00:00")

    env["VIGIE_LOG_FORMAT"] = "xml"
    refused = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "VIGIE_LOG_FORMAT" in refused.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sandbox_settings")
def test_a_click_is_followed_to_the_upstream_call_with_no_personal_data(json_log, settings, client):
    institution = InstitutionFactory()
    clerk = UserFactory(institution=institution)
    people = [
        person_with(scolarite=ScolariteOutcome.ENROLLED),
        person_with(cvec=CvecOutcome.VALID),
        person_with(certification=CertificationOutcome.ACTIVE),
        person_with(covoiturage=CovoiturageOutcome.OK),
    ]
    kinds = [ClaimKind.SCOLARITE, ClaimKind.CVEC, ClaimKind.CERTIFICATION, ClaimKind.COVOITURAGE]
    claims = [claim_for(p, kind, institution) for p, kind in zip(people, kinds, strict=True)]
    client.force_login(clerk)

    clicks = {}
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        json_log.install()
        for claim in claims:
            # Two clicks with the id a reverse proxy gave them, two with one of ours.
            given = {"X-Request-ID": f"proxy-{claim.pk:08d}"} if claim.pk % 2 else {}
            response = client.post(reverse("claim_verify", args=[claim.pk]), headers=given)
            assert response.status_code == 302
            assert response["X-Request-ID"] == given.get("X-Request-ID", response["X-Request-ID"])
            request = VerificationRequest.objects.get(claim=claim)
            clicks[request.pk] = response["X-Request-ID"]
            # The page the clerk comes back to, as a log line of the web side: a 404 of theirs.
            client.get(reverse("applicant_detail", args=[999_999]))
        deadline = time.monotonic() + 60
        while VerificationRequest.objects.exclude(state=RequestState.DONE).exists():
            assert time.monotonic() < deadline, "the worker did not finish the checks"
            time.sleep(0.1)

    lines = _lines(json_log)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    # The web side: the clerk's ids, never their name.
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found
    assert all(line["user_id"] == clerk.pk for line in not_found)
    assert all(line["institution_id"] == institution.pk for line in not_found)
    assert len({line["request_id"] for line in not_found}) == len(claims)  # one per request
    # The worker side: each upstream call carries the click's request id, the task id, the
    # verification request id, the source and the upstream request id.
    calls = [
        line
        for line in lines
        if line["logger"] == "verifications.providers" and "http_status" in line
    ]
    assert {line["verification_request_id"] for line in calls} == set(clicks)
    for line in calls:
        assert line["request_id"] == clicks[line["verification_request_id"]], line
        assert line["task"] == "verifications.verification_run"
        assert line["task_id"]
        assert line["source"] in {"api_particulier", "cvec", "certifinfo", "covoiturage"}
        assert "user_id" not in line
    particulier = [line for line in calls if line["source"] == "api_particulier"]
    assert particulier
    assert all(len(line["upstream_request_id"]) == 36 for line in particulier)  # a UUID
    # The HTTP layer was logged at DEBUG (its request lines carry identities in the query).
    assert any(line["logger"].startswith("urllib3") for line in lines)

    # Every line but factory_boy's own (the test's fixtures, logging the users they create).
    text = "\n".join(
        json.dumps(line, ensure_ascii=False)
        for line in lines
        if not line["logger"].startswith("factory")
    )
    leaks = [
        f"{label}: {value!r}"
        for value, label in _forbidden_strings(people, settings).items()
        if value in text
    ]
    assert not leaks, "personal data or secrets in the JSON logs:\n" + "\n".join(leaks)
    assert clerk.username not in text


def test_the_formatter_keeps_only_whitelisted_extras_and_formats_exceptions():
    formatter = JsonFormatter()

    class Request:
        def __repr__(self) -> str:
            return "<WSGIRequest: GET '/candidats/?q=DUPONT'>"

    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            ("/candidats/",),
            sys.exc_info(),
            extra={"request": Request(), "status_code": 500, "source": "cvec"},
        )
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "Internal Server Error: /candidats/"
    assert entry["status_code"] == 500
    assert entry["source"] == "cvec"
    assert "DUPONT" not in json.dumps(entry)
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: boom" in entry["exception"]
