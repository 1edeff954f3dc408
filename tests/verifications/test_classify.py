"""``pipeline.classify``: what each answer leads to, the one table the worker and the CLI share."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from verifications.enums import AttemptOutcome
from verifications.pipeline.call import Answer
from verifications.pipeline.classify import (
    AlertChange,
    Conclude,
    Defer,
    GaveUp,
    Retry,
    attempt_outcome,
    classify,
    given_up_decision,
)
from verifications.pipeline.gates import FollowUpNotAdmitted, NotAdmitted
from verifications.providers.base import (
    CallInfo,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)
from verifications.providers.limits import BreakerState
from verifications.retry import RetryPolicy
from verifications.verdicts.common import error_decision


NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_failures=3,
    base_delay=2.0,
    max_delay=60.0,
    give_up_after=timedelta(minutes=30),
    conflict_delay=60.0,
)
SOURCE = "api_particulier"


def step_after(error: ProviderError | None = None, *, found: bool = True, **state):
    if error is None:
        call = CallInfo(http_status=200 if found else 404)
        answer = Answer(ProviderResult(SOURCE, found, None, call), None, (call,))
    else:
        answer = Answer(None, error, error.calls)
    state = {"failures": 0, "failing_since": None, **state}
    return classify(answer, now=NOW, policy=POLICY, rng=random.Random(1), **state)


def test_an_answer_concludes_and_ends_the_institutions_alerts():
    assert step_after(found=True) == Conclude(alert=AlertChange.RESOLVE)
    assert step_after(found=False) == Conclude(alert=AlertChange.RESOLVE)


@pytest.mark.parametrize(
    "error",
    [
        ProviderRejected("token", code="00101", call=CallInfo(http_status=401)),
        ProviderNotConfigured("no base URL", setting="base_url"),
    ],
)
def test_a_refusal_concludes_and_raises_an_alert(error):
    assert step_after(error) == Conclude(alert=AlertChange.RAISE)


def test_a_gate_that_refused_defers_by_its_wait():
    refused = NotAdmitted("rate:api_particulier:token", wait=0.4, source=SOURCE)
    assert step_after(refused) == Defer(wait=0.4, reason="rate:api_particulier:token")
    behind = step_after(NotAdmitted("breaker:api_particulier", wait=20, source=SOURCE))
    assert behind == Defer(wait=20, reason="breaker:api_particulier")
    assert behind.breaker_open


def test_behind_an_open_breaker_for_too_long_the_check_is_given_up_as_source_down():
    refused = NotAdmitted("breaker:api_particulier", wait=20, source=SOURCE)
    since = NOW - POLICY.give_up_after
    assert step_after(refused, failing_since=since) == Conclude(gave_up=GaveUp.SOURCE_DOWN)
    # A rate limit never gives up: the source is well, only busy.
    rate = NotAdmitted("rate:api_particulier:ip", wait=20, source=SOURCE)
    assert isinstance(step_after(rate, failing_since=since), Defer)


def test_a_429_waits_for_its_retry_after_and_a_409_about_a_minute_without_failing():
    assert step_after(ProviderRateLimited(retry_after=7)) == Retry(delay=7.0, failed=False)
    conflict = step_after(ProviderRateLimited(retry_after=60, conflict=True))
    assert isinstance(conflict, Retry)
    assert not conflict.failed
    assert 54 <= conflict.delay <= 66


def test_a_failure_backs_off_no_sooner_than_the_source_asks_then_is_given_up():
    first = step_after(ProviderUnavailable(retry_in=9))
    assert isinstance(first, Retry)
    assert first.failed
    assert first.delay >= 9
    spent = step_after(ProviderUnavailable(), failures=POLICY.max_failures - 1)
    assert spent == Conclude(gave_up=GaveUp.RETRIES_SPENT)
    late = step_after(ProviderUnavailable(), failures=1, failing_since=NOW - timedelta(hours=1))
    assert late == Conclude(gave_up=GaveUp.RETRIES_SPENT)


def test_a_follow_up_call_without_a_slot_is_retried_but_never_blames_the_source():
    error = FollowUpNotAdmitted("no slot", retry_in=3, source=SOURCE)
    assert isinstance(step_after(error), Retry)
    assert step_after(error, failures=POLICY.max_failures - 1) == Conclude()


def test_what_the_attempt_rows_record():
    call = CallInfo(http_status=200)
    found = Answer(ProviderResult(SOURCE, True, None, call), None, (call,))
    assert attempt_outcome(found) == AttemptOutcome.ANSWERED
    expected = [
        (ProviderRateLimited(retry_after=1, conflict=True), AttemptOutcome.CONFLICT),
        (ProviderRateLimited(retry_after=1), AttemptOutcome.RATE_LIMITED),
        (ProviderNotConfigured(), AttemptOutcome.SKIPPED_NOT_CONFIGURED),
        (ProviderRejected(code="00100"), AttemptOutcome.REJECTED),
        (ProviderUnavailable(), AttemptOutcome.UNAVAILABLE),
        (ProviderError(), AttemptOutcome.UNAVAILABLE),
    ]
    for error, outcome in expected:
        assert attempt_outcome(Answer.failed(error)) == outcome, error


def _breaker(state: str, *, failures: int, subjects: int) -> BreakerState:
    return BreakerState(
        source=SOURCE,
        state=state,
        failures=failures,
        opened_at=None,
        retry_at=None,
        last_error="30999",
        subjects=subjects,
    )


def test_why_a_check_was_given_up_is_in_its_reason():
    error = ProviderUnavailable("502", call=CallInfo(http_status=502), source=SOURCE)
    plain = error_decision(error, NOW)
    assert plain.reason_code == "source.unavailable"

    down, alone = given_up_decision(
        plain,
        error,
        GaveUp.SOURCE_DOWN,
        _breaker("open", failures=5, subjects=5),
        failures=0,
        now=NOW,
    )
    assert (down.reason_code, down.reason_params["code"], alone) == ("source.down", "30999", False)

    answering = _breaker("closed", failures=1, subjects=9)
    own, alone = given_up_decision(
        plain, error, GaveUp.RETRIES_SPENT, answering, failures=3, now=NOW
    )
    assert (own.reason_code, own.reason_params["failures"], alone) == (
        "source.failing_for_this_request",
        3,
        True,
    )

    for unknown in (None, _breaker("open", failures=5, subjects=5)):
        same, alone = given_up_decision(
            plain, error, GaveUp.RETRIES_SPENT, unknown, failures=3, now=NOW
        )
        assert (same, alone) == (plain, False)
