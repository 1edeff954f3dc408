"""A check as the API shows it: its state and, once done, its result in the request's
language (the reason and the caveats rendered from their codes, as the pages render them).
Never the raw evidence: its digest only (``api/checks.py`` serves the evidence under its own
scope)."""

from django.utils.translation import get_language

from api.schemas import ResultOut, VerificationOut
from verifications.enums import RequestState
from verifications.models import VerificationRequest
from verifications.verdicts import NOTES, REASONS, render_note, render_reason


def _reason(request: VerificationRequest, language: str) -> str:
    if request.reason_code in REASONS:
        return render_reason(request.reason_code, request.reason_params, language=language)
    return request.reason  # a person's own words stay as written


def _caveats(request: VerificationRequest, language: str) -> list[str]:
    codes = [code for code in request.note_codes or () if code in NOTES]
    if not codes:
        return list(request.notes or ())
    return [render_note(code, language=language) for code in codes]


def is_current(request: VerificationRequest) -> bool:
    """Whether this check gives its claim its verdict now: the claim's latest finished check
    of its own question (``latest_done_id``, from the selectors), about the declaration as it
    stands, with the claim's verdict."""
    claim = request.claim
    if request.state != RequestState.DONE or request.variant_key:
        return False
    if getattr(request, "latest_done_id", request.pk) != request.pk:
        return False
    if request.question_digest and request.question_digest != claim.question_digest:
        return False
    return bool(claim.verdict) and request.verdict == claim.verdict


def verification_out(request: VerificationRequest) -> VerificationOut:
    claim = request.claim
    result = None
    if request.state == RequestState.DONE:
        language = get_language() or "fr"
        current = is_current(request)
        result = ResultOut(
            verdict=request.verdict,  # type: ignore[arg-type]  # a Verdict value
            reason_code=request.reason_code,
            reason=_reason(request, language),
            diff=request.diff or [],
            caveats=_caveats(request, language),
            caveat_codes=list(request.note_codes or ()),
            checked_at=request.finished_at,
            valid_until=claim.valid_until if current else None,
            current=current,
            evidence_digest=request.evidence_hash,
            evidence_purged_at=request.evidence_purged_at,
        )
    return VerificationOut.model_validate(
        {
            "id": request.pk,
            "claim_id": claim.pk,
            "applicant_id": claim.applicant_id,
            "kind": claim.kind,
            "source": request.source,
            "state": request.state,
            "trigger": request.trigger,
            "batch_id": request.batch_id,
            "requested_at": request.created_at,
            "not_before": request.not_before,
            "result": result,
        }
    )
