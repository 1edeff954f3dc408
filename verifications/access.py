"""Who may act on the verification domain's objects beyond their role (the role checks
themselves are ``admissions/access.py``)."""

from admissions.models import User
from verifications.enums import BatchKind
from verifications.models import Batch


def import_verification_allowed(user: User, batch: Batch) -> bool:
    """Whether ``user`` may verify an import's claims in one step ("Vérifier les déclarations
    importées"): a supervisor any import of the institution, a clerk the imports they made
    (docs/DESIGN.md §Users and roles)."""
    return (
        user.is_authenticated
        and user.institution_id is not None
        and batch.institution_id == user.institution_id
        and batch.kind == BatchKind.IMPORT
        and (user.is_supervisor or batch.created_by_id == user.pk)
    )
