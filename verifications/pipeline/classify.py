"""What happens after a call: :func:`classify` maps an ``Answer`` to the next step.

The one table of the pipeline, for the worker, the CLI and what follows (the delays:
``verifications.retry``; the verdicts: ``verifications.verdicts``):

=====================================================  ========================================
the answer                                             next step
=====================================================  ========================================
a result, found or not                                 :class:`Conclude`: the verdict rules
                                                       decide; the institution's alerts for
                                                       the source are over
``NotAdmitted``: a gate refused, nothing was sent      :class:`Defer` by the gate's wait; but
                                                       behind an open breaker for longer than
                                                       the policy's ``give_up_after``:
                                                       :class:`Conclude`, given up
                                                       (``source.down``)
``ProviderRateLimited``, a 429                         :class:`Retry` after its
                                                       ``Retry-After`` (not a failure)
``ProviderRateLimited``, API Particulier's 409 00015   :class:`Retry` after about a minute
                                                       (not a failure)
``ProviderUnavailable``: timeout, 5xx, no slot for a   :class:`Retry` with backoff (a failure),
follow-up call                                         until the failures or the time are
                                                       spent: :class:`Conclude`, given up
                                                       (``unavailable``)
``ProviderRejected``, ``ProviderNotConfigured``        :class:`Conclude` (``rejected``), and an
                                                       alert for the institution's admin
any other ``ProviderError``                            :class:`Conclude` (``unavailable``)
=====================================================  ========================================

The providers say what an HTTP answer is (``parse_answer``: a result or one of these errors);
this module says what the pipeline does about it. :func:`attempt_outcome` is what the attempt
rows record of an answer, and :func:`given_up_decision` says, in the verdict's reason, why an
unavailable check was given up.
"""

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from verifications.enums import AttemptOutcome
from verifications.pipeline.call import Answer
from verifications.pipeline.gates import FollowUpNotAdmitted, NotAdmitted
from verifications.providers.base import (
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from verifications.providers.limits import BreakerState
from verifications.retry import RetryPolicy, backoff_delay, conflict_delay, should_give_up
from verifications.verdicts import Decision
from verifications.verdicts.common import error_decision


class GaveUp(StrEnum):
    """Why a check that could not get an answer was given up."""

    SOURCE_DOWN = "source_down"  # it waited too long behind the source's open breaker
    RETRIES_SPENT = "retries_spent"  # its own failures, or its time, are spent


class AlertChange(StrEnum):
    """What a final answer does to the institution's alerts about the source."""

    NONE = ""
    RAISE = "raise"  # the source refused the institution's request: its admin must act
    RESOLVE = "resolve"  # the source answers the institution again


@dataclass(frozen=True)
class Conclude:
    """Final: the verdict rules decide from the result or the last error."""

    gave_up: GaveUp | None = None
    alert: AlertChange = AlertChange.NONE


@dataclass(frozen=True)
class Retry:
    """Call again in ``delay`` seconds; ``failed``: the call counts as one of the check's
    failures (a 429 or a 409 does not)."""

    delay: float
    failed: bool


@dataclass(frozen=True)
class Defer:
    """A gate refused the call and nothing was sent: ask again in ``wait`` seconds. ``reason``
    names the gate (``pipeline.gates``)."""

    wait: float
    reason: str

    @property
    def breaker_open(self) -> bool:
        return self.reason.startswith("breaker")


Step = Conclude | Retry | Defer


def classify(
    answer: Answer,
    *,
    failures: int,
    failing_since: datetime | None,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Step:
    """The next step after ``answer`` (the module's table).

    ``failures`` is how many of the check's calls failed before this one, ``failing_since``
    since when it has been failing (None: it has not).
    """
    error = answer.error
    if isinstance(error, NotAdmitted):
        if error.breaker_open and should_give_up(
            failure_count=0, failing_since=failing_since, now=now, policy=policy
        ):
            return Conclude(gave_up=GaveUp.SOURCE_DOWN)
        return Defer(wait=error.wait, reason=error.reason)
    if isinstance(error, ProviderRateLimited):
        if error.conflict:
            return Retry(delay=conflict_delay(policy, rng=rng), failed=False)
        return Retry(delay=float(error.retry_after), failed=False)
    if isinstance(error, ProviderUnavailable):
        failures += 1
        if not should_give_up(
            failure_count=failures, failing_since=failing_since or now, now=now, policy=policy
        ):
            delay = backoff_delay(failures, policy, retry_in=error.retry_in, rng=rng)
            return Retry(delay=delay, failed=True)
        if isinstance(error, FollowUpNotAdmitted):
            return Conclude()  # the source answered its first call: not its failure
        return Conclude(gave_up=GaveUp.RETRIES_SPENT)
    if isinstance(error, ProviderRejected | ProviderNotConfigured):
        return Conclude(alert=AlertChange.RAISE)
    if answer.result is not None:
        return Conclude(alert=AlertChange.RESOLVE)
    return Conclude()


def attempt_outcome(answer: Answer) -> AttemptOutcome:
    """What the attempt rows of ``answer``'s calls record."""
    if answer.result is not None:
        return AttemptOutcome.ANSWERED if answer.result.found else AttemptOutcome.NOT_FOUND
    match answer.error:
        case ProviderRateLimited(conflict=True):
            return AttemptOutcome.CONFLICT
        case ProviderRateLimited():
            return AttemptOutcome.RATE_LIMITED
        case ProviderNotConfigured():
            return AttemptOutcome.SKIPPED_NOT_CONFIGURED
        case ProviderRejected():
            return AttemptOutcome.REJECTED
    return AttemptOutcome.UNAVAILABLE


def given_up_decision(
    decision: Decision,
    error: ProviderError,
    gave_up: GaveUp,
    state: BreakerState | None,
    *,
    failures: int,
    now: datetime,
) -> tuple[Decision, bool]:
    """``decision`` (``source.unavailable``) with its reason saying why the check was given up.

    ``SOURCE_DOWN``: the source is down (``source.down``, with the breaker's last error).
    ``RETRIES_SPENT``: if the source's breaker (``state``, None when unknown) shows the source
    answering other requests, this check failed alone (``source.failing_for_this_request``,
    after ``failures`` calls; the second value is then True: its subject is to be set aside,
    so that its re-runs and re-checks do not open the breaker either); otherwise the decision
    stands. Only the reason changes: what else the decision holds (a variant's...) stands.
    """
    if gave_up is GaveUp.SOURCE_DOWN:
        why = error_decision(
            error, now, source_down=True, last_error=state.last_error if state else ""
        )
    elif state is not None and not state.down and state.answered > 0:
        why = error_decision(error, now, failing_alone=True, failures=failures)
    else:
        return decision, False
    decision = dataclasses.replace(
        decision, reason_code=why.reason_code, reason=why.reason, reason_params=why.reason_params
    )
    return decision, gave_up is GaveUp.RETRIES_SPENT
