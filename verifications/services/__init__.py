"""Writes of the verification pipeline (see each module)."""

from verifications.services.dispatch import verification_dispatch
from verifications.services.requests import (
    applicant_claims_verify,
    verification_request_create,
    verification_requests_create,
)
from verifications.services.run import RunOutcome, verification_run


__all__ = [
    "RunOutcome",
    "applicant_claims_verify",
    "verification_dispatch",
    "verification_request_create",
    "verification_requests_create",
    "verification_run",
]

from verifications.services.decisions import (
    claim_override_verdict,
    claim_verify_manually,
)


__all__ += ["claim_override_verdict", "claim_verify_manually"]
