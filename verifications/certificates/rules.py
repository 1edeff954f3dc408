"""Which checks a certificate may vouch for (pure)."""

from typing import TYPE_CHECKING

from verifications.enums import RequestState, Verdict


if TYPE_CHECKING:
    from verifications.models import Claim, VerificationRequest


# A source that did not answer, or refused the request, stated nothing about the claim.
NOTHING_STATED = frozenset({Verdict.UNAVAILABLE, Verdict.REJECTED})


def certifiable(request: "VerificationRequest", claim: "Claim") -> bool:
    """Whether ``request`` is a finished check that gives ``claim`` its verdict now: a source's
    answer, a variant the source found, or a person's decision, about the declaration and
    identity as they stand; not a source's silence or refusal."""
    return (
        request.state == RequestState.DONE
        and bool(request.verdict)
        and request.verdict not in NOTHING_STATED
        and request.verdict == claim.verdict
        and (not request.question_digest or request.question_digest == claim.question_digest)
    )
