"""The admin endpoints over HTTP: knobs (faults, outage) and the stats the benchmarks rely on."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests

from tests.fixtures.sandbox import ROOT, SandboxError, start_sandbox, stop_sandbox
from tests.sandbox import reference
from tests.sandbox.support import TIMEOUT, get_scolarite, scolarite_params


EMMA = scolarite_params("MARTIN", ["EMMA"], "F", date(2012, 8, 15), "0132733A", 2025)
CVEC = "/cvec/api/attestation/CVEC2025DUPONT?etudiant=DUPON"


def test_knobs_round_trip_and_reset(sandbox):
    defaults = sandbox.knobs()
    assert defaults["particulier_token_limit"] == 20
    assert defaults["particulier_ip_limit"] == 1000
    assert defaults["covoiturage_limit"] == 100
    assert defaults["covoiturage_window"] == 300

    changed = sandbox.configure(latency_ms=5, apis={"cvec": {"outage": True}})

    assert changed["latency_ms"] == 5
    assert changed["apis"] == {"cvec": {"outage": True}}
    sandbox.reset()
    assert sandbox.knobs() == defaults


@pytest.mark.parametrize(
    "knobs",
    [
        {"no_such_knob": 1},
        {"latency_ms": -1},
        {"error_rates": {"502": 0.7, "504": 0.7}},
        {"error_rates": {"200": 0.5}},
        {"apis": {"nowhere": {}}},
        {"apis": {"cvec": {"particulier_ip_limit": 3}}},
        {"ban_mode": "sulk"},
        {"particulier_tokens": "one-token"},
    ],
)
def test_invalid_knobs_are_refused_and_change_nothing(sandbox, knobs):
    before = sandbox.knobs()

    with pytest.raises(SandboxError):
        sandbox.configure(**knobs)

    assert sandbox.knobs() == before


def test_malformed_admin_body_is_400(sandbox):
    response = requests.post(f"{sandbox.url}/_sandbox/knobs", data="{not json", timeout=TIMEOUT)

    assert response.status_code == 400


def test_latency_is_fixed_plus_random(sandbox):
    sandbox.configure(latency_ms=150, latency_jitter_ms=100)

    durations = []
    for _ in range(3):
        started = time.monotonic()
        assert requests.get(sandbox.url + CVEC, timeout=TIMEOUT).status_code == 200
        durations.append(time.monotonic() - started)

    assert min(durations) >= 0.15
    assert max(durations) < 1.5


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [("502", 502, "30999"), ("504", 504, "30002"), ("504/00501", 504, "00501")],
)
def test_injected_errors_use_the_documented_bodies(sandbox, key, status, code):
    sandbox.configure(error_rates={key: 1.0})

    response = get_scolarite(sandbox.url, EMMA)

    assert response.status_code == status
    assert response.json() == reference.PARTICULIER_ERRORS[code]


def test_error_rates_are_drawn_per_request(sandbox):
    sandbox.configure(error_rates={"502": 0.5}, seed=7)

    statuses = [requests.get(sandbox.url + CVEC, timeout=TIMEOUT).status_code for _ in range(40)]

    assert set(statuses) == {200, 502}
    assert 8 <= statuses.count(502) <= 32


def test_connection_resets_and_timeouts(sandbox):
    sandbox.configure(apis={"cvec": {"reset_rate": 1.0}})
    with pytest.raises(requests.ConnectionError):
        requests.get(sandbox.url + CVEC, timeout=TIMEOUT)

    sandbox.configure(apis={"cvec": {"timeout_rate": 1.0, "timeout_seconds": 3.0}})
    with pytest.raises(requests.ReadTimeout):
        requests.get(sandbox.url + CVEC, timeout=0.2)

    # Other APIs are unaffected.
    assert get_scolarite(sandbox.url, EMMA).status_code == 200
    deadline = time.monotonic() + 5
    while sandbox.stats()["endpoints"]["cvec.attestation"]["in_flight"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    statuses = sandbox.stats()["endpoints"]["cvec.attestation"]["statuses"]
    assert statuses == {"reset": 1, "timeout": 1}


@pytest.mark.parametrize(
    ("mode", "error"), [("reset", requests.ConnectionError), ("timeout", requests.ReadTimeout)]
)
def test_outage_modes(sandbox, mode, error):
    sandbox.configure(outage=True, outage_mode=mode, timeout_seconds=3.0)

    with pytest.raises(error):
        get_scolarite(sandbox.url, EMMA, timeout=0.3)


def test_stats_count_per_endpoint_client_token_and_status(sandbox):
    sandbox.configure(trust_forwarded_for=True)
    for _ in range(5):
        get_scolarite(sandbox.url, EMMA, headers={"X-Forwarded-For": "10.0.0.1"})
    get_scolarite(sandbox.url, {**EMMA, "recipient": None}, headers={"X-Forwarded-For": "10.0.0.1"})
    for _ in range(3):
        requests.get(sandbox.url + CVEC, headers={"X-Forwarded-For": "10.0.0.2"}, timeout=TIMEOUT)

    stats = sandbox.stats()

    assert stats["total"]["requests"] == 9
    assert stats["total"]["statuses"] == {"200": 8, "422": 1}
    v4 = stats["endpoints"]["particulier.scolarites_v4"]
    assert (v4["requests"], v4["statuses"], v4["rate_limited"]) == (6, {"200": 5, "422": 1}, 0)
    assert stats["endpoints"]["cvec.attestation"]["requests"] == 3
    assert stats["clients"]["10.0.0.1"]["requests"] == 6
    assert stats["clients"]["10.0.0.2"]["requests"] == 3
    assert stats["clients_by_api"]["particulier"]["10.0.0.1"]["requests"] == 6
    assert set(stats["clients_by_api"]["cvec"]) == {"10.0.0.2"}
    assert stats["tokens"] == {"vigie-sandbox-default": stats["tokens"]["vigie-sandbox-default"]}
    assert stats["tokens"]["vigie-sandbox-default"]["requests"] == 6
    assert stats["total"]["in_flight"] == 0


def test_stats_measure_the_busiest_second_and_minute(sandbox):
    sandbox.configure(
        limit_algorithm="sliding", particulier_token_limit=10, particulier_token_window=60.0
    )
    started = time.monotonic()
    statuses = [get_scolarite(sandbox.url, EMMA).status_code for _ in range(12)]
    elapsed = time.monotonic() - started

    stats = sandbox.stats()["tokens"]["vigie-sandbox-default"]

    assert statuses == [200] * 10 + [429, 429]
    assert stats["rate_limited"] == 2
    assert stats["max_per_minute"] == 12
    if elapsed < 1:  # twelve calls on loopback take a few milliseconds
        assert stats["max_per_second"] == 12


def test_reset_empties_stats_windows_and_bans(sandbox):
    sandbox.configure(
        limit_algorithm="sliding", particulier_token_limit=1, particulier_token_window=60.0
    )
    get_scolarite(sandbox.url, EMMA)
    assert get_scolarite(sandbox.url, EMMA).status_code == 429

    sandbox.reset()

    assert sandbox.stats()["total"]["requests"] == 0
    assert get_scolarite(sandbox.url, EMMA).status_code == 200


def test_unknown_prefix_and_admin_route(sandbox):
    assert requests.get(f"{sandbox.url}/nowhere", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{sandbox.url}/_sandbox/nothing", timeout=TIMEOUT).status_code == 404


def test_config_file_sets_the_start_up_knobs(tmp_path):
    config = tmp_path / "knobs.yaml"
    config.write_text(
        "latency_ms: 12\nparticulier_token_limit: 5\napis:\n  cvec:\n    outage: true\n"
    )

    started = time.monotonic()
    other = start_sandbox(tmp_path / "sandbox.log", "--config", str(config), "--threads", "4")
    listening_after = time.monotonic() - started
    try:
        knobs = other.knobs()
        other.configure(latency_ms=0)
        other.reset()  # back to the file's values, not the built-in defaults
        assert other.knobs() == knobs
    finally:
        stop_sandbox(other)

    print(f"sandbox listening {listening_after:.2f} s after start")  # noqa: T201 - a figure
    assert (knobs["latency_ms"], knobs["particulier_token_limit"]) == (12, 5)
    assert knobs["apis"] == {"cvec": {"outage": True}}
    assert listening_after < 5


def test_invalid_config_file_stops_the_command(tmp_path):
    config = tmp_path / "knobs.json"
    config.write_text('{"latency_ms": "slow"}')

    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "--port", "0", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        check=False,
    )

    assert result.returncode != 0
    assert "latency_ms" in result.stderr


def test_waiting_clients_do_not_hold_server_threads(sandbox):
    # Far more hanging requests than the server has threads (32 by default).
    sandbox.configure(apis={"cvec": {"timeout_rate": 1.0, "timeout_seconds": 5.0}})
    with ThreadPoolExecutor(max_workers=60) as pool:
        hanging = [pool.submit(requests.get, sandbox.url + CVEC, timeout=1.0) for _ in range(60)]
        time.sleep(0.3)

        started = time.monotonic()
        answered = get_scolarite(sandbox.url, EMMA)
        took = time.monotonic() - started

    assert answered.status_code == 200
    assert took < 2.5  # a thread-bound server would make it wait for the 5 s hangs
    assert all(isinstance(f.exception(), requests.ReadTimeout) for f in hanging)
