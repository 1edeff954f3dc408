"""What every router of ``/api/v1/`` shares: the scopes its operations declare, the error
answers the OpenAPI document lists, and the acting user (the key's service account)."""

from typing import Any

from django.http import HttpRequest

from admissions.models import User
from api.auth import KeyAuth
from api.enums import Scope
from api.schemas import Problem


# The purpose recorded when a key reads an applicant's personal data (docs/SECURITY.md §The
# audit trail): the pages record "instruction du dossier d'admission".
API_READ_PURPOSE = "échange avec le système d'information de l'établissement (API)"

READ = KeyAuth(Scope.READ)
WRITE = KeyAuth(Scope.WRITE)
VERIFY = KeyAuth(Scope.VERIFY)
EVIDENCE = KeyAuth(Scope.EVIDENCE)

ERRORS: dict[int, Any] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
    429: Problem,
}


def acting_user(request: HttpRequest) -> User:
    return request.auth.user  # type: ignore[attr-defined]  # set by KeyAuth
