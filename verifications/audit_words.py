"""The verification domain's words in the audit trail: claim kinds, verdicts, reasons, rematch
variants, claims' fields, policies and configuration alerts, registered into the trail's
renderer (``admissions/audit_words.py``, which does not import verifications) by
``VerificationsConfig.ready``."""

from collections.abc import Mapping
from typing import Any

from admissions.audit_words import ClaimWords, claim_words_register
from verifications.claims import variant_label
from verifications.enums import ClaimKind, Verdict
from verifications.forms import claim_fields
from verifications.models import FreshnessPolicy, InstitutionPolicy
from verifications.providers.error_codes import describe
from verifications.verdicts import REASONS, render_reason


def _claim_field_labels(kind: str) -> dict[str, Any]:
    return {name: field.label for name, field in claim_fields(kind)}


def _reason(code: str, params: Mapping[str, Any], language: str) -> str | None:
    return render_reason(code, params, language=language) if code in REASONS else None


def _alert(code: str, source: str) -> str:
    return describe(code, source=source)


def audit_words_install() -> None:
    claim_words_register(
        ClaimWords(
            kinds=dict(ClaimKind.choices),
            verdicts=dict(Verdict.choices),
            variant_label=variant_label,
            claim_field_labels=_claim_field_labels,
            setting_models=(InstitutionPolicy, FreshnessPolicy),
            reason=_reason,
            alert=_alert,
        )
    )
