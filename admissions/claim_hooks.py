"""What the applicant domain asks of the verification domain, without importing it.

An applicant is recorded with what they declare (their claims), and an edit of their identity
changes the question some claims ask. Claims are the verification domain's (``Claim``, its
shapes, its verdicts), and imports flow one way, verifications → the applicant domain
(docs/DESIGN.md §Where things are): so the applicant domain's services call these hooks, and
the verification domain registers them when it starts (``VerificationsConfig.ready``:
``verifications/services/claims.py``), in every process, before any request or task.

One implementation, registered once: this is an inversion of the import, not an extension
point (no signal, no list of receivers).
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured


if TYPE_CHECKING:
    from admissions.models import Applicant, User


class ClaimHooks(Protocol):
    def clean(self, kind: str, declared: Mapping[str, Any]) -> dict[str, Any]:
        """The claim's declared data, cleaned for its kind; ``ValidationError`` keyed by field
        (in French) when it is not valid. Writes nothing."""
        ...

    def record(
        self,
        *,
        acting_user: "User",
        applicant: "Applicant",
        claims: Iterable[tuple[str, dict[str, Any]]],
        ip: str | None,
    ) -> list[int]:
        """Store cleaned claims of a new applicant, each with its audit event, in the caller's
        transaction; returns their ids (to check them on record)."""
        ...

    def identity_changed(self, *, applicant: "Applicant", fields: Iterable[str]) -> list[int]:
        """The applicant's identity ``fields`` changed (saved, in the caller's transaction): the
        claims follow. Returns the claims whose verdict no longer applies and was reset."""
        ...


_registered: ClaimHooks | None = None


def claim_hooks_register(hooks: ClaimHooks) -> None:
    global _registered
    _registered = hooks


def claim_hooks() -> ClaimHooks:
    if _registered is None:
        raise ImproperlyConfigured(
            "no claim hooks registered: the verifications app registers them in its ready()"
        )
    return _registered
