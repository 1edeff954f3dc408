"""API Particulier's limits over HTTP: RateLimit headers, 429 with Retry-After, the ban, and
409 for an identical request in flight (docs/api/api-particulier.md §Errors,
docs/api/api-particulier.md §Rate limits).

Windows and ban durations are set to fractions of a second; the few waits poll with a deadline
instead of sleeping a fixed time. Tests that count up to a limit use sliding windows, which
never roll over in the middle of a test.
"""

import threading
import time
from datetime import date

import pytest
import requests

from sandbox import tokens
from tests.sandbox import reference
from tests.sandbox.support import TIMEOUT, get_scolarite, scolarite_params


EMMA = scolarite_params("MARTIN", ["EMMA"], "F", date(2012, 8, 15), "0132733A", 2025)
JUSTINE = scolarite_params("Martin", ["Justine"], "F", date(2000, 1, 20), "0890003V", 2022)
UNKNOWN = scolarite_params("INCONNU", ["X"], "M", date(2001, 1, 1), "0132733A", 2025)


def _headers(response: requests.Response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["RateLimit-Limit"]), int(h["RateLimit-Remaining"]), int(h["RateLimit-Reset"])


def test_every_answer_carries_the_endpoint_window(sandbox):
    answers = [
        get_scolarite(sandbox.url, EMMA),
        get_scolarite(sandbox.url, UNKNOWN),
        get_scolarite(sandbox.url, {**EMMA, "recipient": None}),
        get_scolarite(sandbox.url, EMMA, token=None),
    ]

    assert [a.status_code for a in answers] == [200, 404, 422, 401]
    limits = [_headers(a) for a in answers[:3]]
    assert {limit for limit, _, _ in limits} == {1200}
    now = time.time()
    for _, _, reset in limits:
        assert now - 1 < reset <= now + 61
    if limits[0][2] == limits[2][2]:  # same one-minute window: one slot used per call
        assert [remaining for _, remaining, _ in limits] == [1199, 1198, 1197]
    assert "Retry-After" not in answers[0].headers


def test_fixed_windows_end_on_the_clock_and_refuse_until_then(sandbox):
    sandbox.configure(particulier_endpoint_limit=3, particulier_endpoint_window=2.0)

    answers = [get_scolarite(sandbox.url, EMMA) for _ in range(4)]

    resets = {_headers(a)[2] for a in answers}
    assert all(reset % 2 == 0 for reset in resets)
    if len(resets) == 1:  # all four in one window (it may roll over between two calls)
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert 1 <= int(answers[3].headers["Retry-After"]) <= 2


def test_per_token_limit_refuses_with_429_and_retry_after(sandbox):
    sandbox.configure(
        limit_algorithm="sliding", particulier_token_limit=5, particulier_token_window=30.0
    )

    statuses = [get_scolarite(sandbox.url, EMMA).status_code for _ in range(5)]
    refused = get_scolarite(sandbox.url, EMMA)

    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.json() == reference.PARTICULIER_ERRORS["00429"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert "RateLimit-Remaining" in refused.headers
    # Another token has its own budget.
    assert get_scolarite(sandbox.url, EMMA, token=tokens.REDUCED_SCOPE_TOKEN).status_code == 200


def test_per_ip_limit_covers_every_token(sandbox):
    sandbox.configure(limit_algorithm="sliding", particulier_ip_limit=4, particulier_ip_window=30.0)
    for token in (tokens.DEFAULT_TOKEN, tokens.REDUCED_SCOPE_TOKEN) * 2:
        assert get_scolarite(sandbox.url, EMMA, token=token).status_code == 200

    refused = get_scolarite(sandbox.url, EMMA, token=tokens.EXPIRED_TOKEN)

    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


def test_per_endpoint_limit_is_announced_and_enforced(sandbox):
    sandbox.configure(limit_algorithm="sliding", particulier_endpoint_limits={"scolarites_v4": 2})

    first = get_scolarite(sandbox.url, EMMA)
    second = get_scolarite(sandbox.url, EMMA)
    third = get_scolarite(sandbox.url, EMMA)
    other_endpoint = get_scolarite(sandbox.url, EMMA, version="v3")

    assert _headers(first)[:2] == (2, 1)
    assert _headers(second)[:2] == (2, 0)
    assert third.status_code == 429
    assert _headers(third)[:2] == (2, 0)
    assert other_endpoint.status_code == 200
    assert _headers(other_endpoint)[0] == 1200


def test_a_window_frees_after_its_duration_and_refusals_do_not_extend_it(sandbox):
    sandbox.configure(
        limit_algorithm="sliding",
        particulier_token_limit=2,
        particulier_token_window=0.3,
        ban_threshold=0,  # this test polls through 429s, which would get it banned
    )
    started = time.monotonic()
    assert [get_scolarite(sandbox.url, EMMA).status_code for _ in range(2)] == [200, 200]
    assert get_scolarite(sandbox.url, EMMA).status_code == 429

    deadline = time.monotonic() + 5
    while (status := get_scolarite(sandbox.url, EMMA).status_code) == 429:
        assert time.monotonic() < deadline, "the window never freed"
        time.sleep(0.02)

    assert status == 200
    assert time.monotonic() - started >= 0.25


def test_injected_429_looks_like_a_real_one(sandbox):
    sandbox.configure(error_rates={"429": 1.0})

    response = get_scolarite(sandbox.url, EMMA)

    assert response.status_code == 429
    assert response.json() == reference.PARTICULIER_ERRORS["00429"]
    assert response.headers["Retry-After"] == "1"
    assert "RateLimit-Limit" in response.headers


def _ban_setup(sandbox, mode: str) -> None:
    sandbox.configure(
        limit_algorithm="sliding",
        particulier_token_limit=1,
        particulier_token_window=5.0,
        ban_threshold=3,
        ban_seconds=1.0,
        ban_mode=mode,
        ban_hang_seconds=1.0,
    )
    assert get_scolarite(sandbox.url, EMMA).status_code == 200
    # Told to wait, the client calls again at once: the refusal, then three violations.
    for _ in range(3):
        assert get_scolarite(sandbox.url, EMMA).status_code == 429


def test_a_client_that_ignores_429s_is_banned_and_gets_no_answer(sandbox):
    _ban_setup(sandbox, "hang")

    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        get_scolarite(sandbox.url, EMMA, timeout=0.3)
    assert time.monotonic() - started >= 0.25
    with pytest.raises(requests.ReadTimeout):
        get_scolarite(sandbox.url, UNKNOWN, timeout=0.3)

    assert "127.0.0.1" in sandbox.stats()["bans"]
    # Other APIs are other servers: not banned.
    cvec = requests.get(f"{sandbox.url}/cvec/api/attestation/X", timeout=TIMEOUT)
    assert cvec.status_code == 400

    # The ban ends after ban_seconds; the client is answered again.
    deadline = time.monotonic() + 5
    while True:
        try:
            answered = get_scolarite(sandbox.url, EMMA, timeout=0.3)
            break
        except (requests.ReadTimeout, requests.ConnectionError):
            assert time.monotonic() < deadline, "still banned"
    assert answered.status_code in (200, 429)
    assert time.monotonic() - started >= 0.9
    # Every unanswered request is counted (the two above, and those of the wait).
    particulier = sandbox.stats()["apis"]["particulier"]
    assert particulier["statuses"]["banned"] >= 2
    assert particulier["no_answer"] == particulier["statuses"]["banned"]


def test_ban_close_mode_drops_the_connection_at_once(sandbox):
    _ban_setup(sandbox, "close")

    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        get_scolarite(sandbox.url, EMMA, timeout=5)
    assert time.monotonic() - started < 2


def test_a_client_that_waits_as_told_is_never_banned(sandbox):
    sandbox.configure(
        limit_algorithm="sliding",
        particulier_token_limit=1,
        particulier_token_window=0.5,
        ban_threshold=1,
        ban_seconds=60.0,
    )
    assert get_scolarite(sandbox.url, EMMA).status_code == 200
    refused = get_scolarite(sandbox.url, EMMA)
    assert refused.status_code == 429

    time.sleep(int(refused.headers["Retry-After"]))  # what a well-behaved client does

    assert get_scolarite(sandbox.url, EMMA).status_code == 200
    assert sandbox.stats()["bans"] == {}


def _concurrently(*calls):
    """Run the calls at once; their responses, in order."""
    results: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_identical_request_in_flight_is_409_00015(sandbox):
    sandbox.configure(latency_ms=400)
    reordered = dict(reversed(list(EMMA.items())))  # same parameters, another order

    answers = _concurrently(
        lambda: get_scolarite(sandbox.url, EMMA),
        lambda: (time.sleep(0.1), get_scolarite(sandbox.url, reordered))[1],
    )

    assert sorted(a.status_code for a in answers) == [200, 409]
    conflict = next(a for a in answers if a.status_code == 409)
    assert conflict.json() == reference.PARTICULIER_ERRORS["00015"]
    assert "RateLimit-Limit" in conflict.headers
    # Once the first is answered, the same request goes through.
    assert get_scolarite(sandbox.url, EMMA).status_code == 200


def test_different_parameters_or_tokens_are_not_conflicts(sandbox):
    sandbox.configure(latency_ms=300)

    answers = _concurrently(
        lambda: get_scolarite(sandbox.url, EMMA),
        lambda: get_scolarite(sandbox.url, JUSTINE),
        lambda: get_scolarite(sandbox.url, EMMA, token=tokens.REDUCED_SCOPE_TOKEN),
    )

    assert [a.status_code for a in answers] == [200, 200, 200]


def test_conflict_detection_can_be_switched_off(sandbox):
    sandbox.configure(latency_ms=300, particulier_conflicts=False)

    answers = _concurrently(
        lambda: get_scolarite(sandbox.url, EMMA), lambda: get_scolarite(sandbox.url, EMMA)
    )

    assert [a.status_code for a in answers] == [200, 200]
