"""The sandbox's parts without HTTP: windows, stats arithmetic, bans, tokens, indexes; and
that it stays apart from Vigie's code."""

import ast
import io
import itertools
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import scenarios, tokens
from sandbox.app import SandboxApp
from sandbox.limits import Bans, RateWindows, Rule
from sandbox.people import PopulationIndex, person_for_cvec_code
from sandbox.population import (
    POPULATION_SIZE,
    CvecOutcome,
    fold,
    person,
    scolarite_key_of,
)
from sandbox.stats import Counter


def test_fixed_window_counts_until_the_clock_boundary():
    windows, rule = RateWindows(), Rule("k", 2, 10.0)

    assert windows.hit([rule], 100.0)[0] is None
    refused, (state,) = windows.hit([rule], 101.0)
    assert refused is None
    assert (state.remaining, state.reset_at) == (0, 110.0)
    refused, _ = windows.hit([rule], 102.5)
    assert refused is not None
    assert refused.retry_after == 8
    assert windows.hit([rule], 110.0)[0] is None


def test_sliding_window_frees_one_slot_at_a_time():
    windows, rule = RateWindows(), Rule("k", 2, 10.0)
    windows.hit([rule], 0.0, "sliding")
    windows.hit([rule], 5.0, "sliding")

    refused, _ = windows.hit([rule], 9.0, "sliding")
    assert refused is not None
    assert refused.retry_after == 1
    assert windows.hit([rule], 10.0, "sliding")[0] is None  # the request at 0.0 left
    assert windows.hit([rule], 11.0, "sliding")[0] is not None  # 5.0 and 10.0 remain


def test_a_refused_request_uses_up_no_window():
    windows = RateWindows()
    narrow, wide = Rule("narrow", 1, 60.0), Rule("wide", 5, 60.0)
    windows.hit([narrow, wide], 0.0, "sliding")

    refused, states = windows.hit([narrow, wide], 1.0, "sliding")

    assert refused is not None
    assert states[1].remaining == 4  # the wide window was not charged for the refusal


def test_a_zero_limit_is_no_limit():
    windows = RateWindows()
    assert all(windows.hit([Rule("k", 0, 1.0)], float(t))[0] is None for t in range(100))


def _brute_force_max(times: list[float], window: float) -> int:
    """The most arrivals in any window (t - w, t], checked at every arrival t (the busiest
    window can always be slid to end on an arrival)."""
    return max(sum(1 for u in times if t - window < u <= t) for t in times)


@given(st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), min_size=1, max_size=80))
def test_stats_find_the_busiest_window_exactly(offsets):
    times = sorted(offsets)
    counter = Counter()
    for t in times:
        counter.arrive(t)

    assert counter.max_per_second == _brute_force_max(times, 1.0)
    assert counter.max_per_minute == _brute_force_max(times, 60.0)


def test_requests_exactly_one_window_apart_are_in_different_windows():
    counter = Counter()
    for t in (0.0, 0.5, 1.0, 1.5):
        counter.arrive(t)

    assert counter.max_per_second == 2


def test_ban_after_repeated_calls_during_a_retry_after():
    bans = Bans()
    bans.note_refusal("a", retry_until=10.0)

    verdicts = [bans.check("a", t, threshold=3, ban_seconds=5.0) for t in (1.0, 2.0, 3.0)]

    assert verdicts == [False, False, True]
    assert bans.check("a", 7.9, threshold=3, ban_seconds=5.0)
    # The ban is over; the next call, still early, is a first violation again.
    assert not bans.check("a", 8.1, threshold=3, ban_seconds=5.0)
    assert not bans.check("b", 3.0, threshold=3, ban_seconds=5.0)


def test_waiting_as_told_clears_violations():
    bans = Bans()
    bans.note_refusal("a", retry_until=10.0)
    bans.check("a", 1.0, threshold=2, ban_seconds=5.0)

    assert not bans.check("a", 11.0, threshold=2, ban_seconds=5.0)
    bans.note_refusal("a", retry_until=20.0)
    assert not bans.check("a", 12.0, threshold=2, ban_seconds=5.0)


def test_settings_carry_the_sandbox_default_token():
    settings_module = sys.modules["admissions.settings"]

    assert settings_module._SANDBOX_PARTICULIER_TOKEN == tokens.DEFAULT_TOKEN
    assert settings_module._SANDBOX_CERTIFINFO_TOKEN == tokens.CERTIFINFO_TOKEN


def test_token_payloads():
    default = tokens.decode_payload(tokens.DEFAULT_TOKEN)
    expired = tokens.decode_payload(tokens.EXPIRED_TOKEN)

    assert set(default["scopes"]) == set(tokens.MEN_SCOPES)
    assert expired["exp"] < default["exp"]
    assert tokens.decode_payload("a.b") is None
    assert tokens.decode_payload("a.!!!.c") is None
    assert tokens.label(tokens.DEFAULT_TOKEN) == "vigie-sandbox-default"
    assert tokens.label("opaque").startswith("sha256:")


def test_the_index_finds_every_sampled_person():
    index = PopulationIndex()
    index.start()
    assert index.wait(60)

    for i in itertools.chain(range(50), range(0, POPULATION_SIZE, 4999), [POPULATION_SIZE - 1]):
        p = person(i)
        key = (fold(p.birth_name), fold(p.first_names[0]), p.sex, p.birth_date, p.uai, 2026)
        assert scolarite_key_of(i) == key
        found = index.by_scolarite(key)
        assert found is not None
        assert scolarite_key_of(found.index) == key  # the first of any homonyms
        assert index.by_covoiturage_uuid(p.covoiturage_uuid) == p
        assert index.by_covoiturage_uuid(p.covoiturage_uuid.upper()) == p


def test_cvec_codes_decode_to_their_holder():
    for i in (0, 1, 96, 97, 12345, POPULATION_SIZE - 1):
        assert person_for_cvec_code(person(i).cvec_code) == person(i)
    wrong_check = person(5).cvec_code[:-4] + "99SB"
    assert person_for_cvec_code(wrong_check) is None
    assert person_for_cvec_code("VER1ZZZZZZ00SB") is None  # beyond the population


def test_every_scenario_file_is_valid():
    cases = scenarios.all_cases()

    assert set(cases) == {
        "certifinfo/certification",
        "covoiturage/certificates",
        "cvec/attestation",
        "particulier/scolarites",
        "particulier/scolarites_v2",
    }
    for folder, folder_cases in cases.items():
        for case in folder_cases:
            assert case.title, case.path
            assert 200 <= case.status <= 599, case.path
            assert case.payload, case.path
            assert json.loads(case.payload) is not None, case.path
            assert case.path.startswith(folder), case.path


def test_cvec_population_outcomes_decode():
    unknown = next(person(i) for i in range(500) if person(i).cvec == CvecOutcome.UNKNOWN)
    assert person_for_cvec_code(unknown.cvec_code) == unknown  # the API decides it is unknown


def _call(app, path, remote="127.0.0.1", headers=None, method="GET"):
    captured = {}
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": remote,
        "wsgi.input": io.BytesIO(b""),
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
    }
    body = b"".join(app(environ, lambda status, hdrs: captured.update(status=status)))
    return captured["status"], body


@pytest.mark.parametrize(
    ("remote", "headers", "status"),
    [
        ("127.0.0.1", {}, "200 OK"),
        ("::1", {}, "200 OK"),
        ("10.1.2.3", {}, "403 Forbidden"),
        ("10.1.2.3", {"X-Sandbox-Admin": "wrong"}, "403 Forbidden"),
        ("10.1.2.3", {"X-Sandbox-Admin": "s3cret"}, "200 OK"),
        ("10.1.2.3", {"X-Forwarded-For": "127.0.0.1"}, "403 Forbidden"),
    ],
)
def test_admin_endpoints_are_for_loopback_or_the_shared_secret(remote, headers, status):
    app = SandboxApp(admin_secret="s3cret")

    assert _call(app, "/_sandbox/knobs", remote, headers)[0] == status


SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


def test_the_sandbox_imports_nothing_of_vigie():
    """A development tool apart from the production code: it fakes the sources, so it must not
    share their code (nor Django's), or a bug would be faked as faithfully as it is made."""
    found = {
        f"{path.relative_to(SANDBOX.parent)}: {name}"
        for path in sorted(SANDBOX.rglob("*.py"))
        for name in _imported_packages(path)
        if name in {"admissions", "verifications", "django", "tests"}
    }
    assert sorted(SANDBOX.rglob("*.py")), SANDBOX
    assert not found, sorted(found)
