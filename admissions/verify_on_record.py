"""Checking claims as soon as they are recorded, for an institution that asks for it
(``Institution.verify_on_record``, "vérifier les déclarations dès leur enregistrement" on its
settings page; off by default).

The applicant domain records claims and never imports the pipeline (docs/DESIGN.md): once the
claims are committed it sends the pipeline's task by name, as the pipeline's services send
theirs (``verifications/enqueue.py``), and the task (``verifications.tasks``) asks for their
checks with the trigger ``on_record``, which the journal shows. A claim typed in a form or
edited, or whose verdict an edit of the applicant's identity reset, is sent to its source at once
(``verifications.services.requests``); an import's claims make one verification batch linked to
the import, which the importer follows as if they had clicked "Vérifier les déclarations
importées" (``verifications.services.batches.import_verify_on_record``).

If the broker is down at that moment, nothing is sent: the claims stay "not checked", where the
applicant list's filter and one click ("Vérifier toutes les déclarations", "Vérifier les
déclarations importées") find them. They are never lost, only not checked by themselves.
"""

import logging
from collections.abc import Iterable

from celery import current_app
from django.db import transaction

from admissions.models import Institution, User


logger = logging.getLogger(__name__)

# Registered by verifications.tasks (``VerificationsConfig.ready`` imports it in every process).
VERIFY_ON_RECORD_TASK = "verifications.claims_verify_on_record"


def claims_verify_on_commit(
    *,
    institution: Institution,
    acting_user: User | None,
    claim_ids: Iterable[int] = (),
    import_batch_id: int | None = None,
    ip: str | None = None,
) -> bool:
    """Once the current transaction commits, ask for the checks of these claims (or of an
    import's claims), if the institution checks claims as soon as they are recorded. Returns
    whether it will."""
    claim_ids = list(claim_ids)
    if not institution.verify_on_record or not (claim_ids or import_batch_id):
        return False
    kwargs = {
        "claim_ids": claim_ids,
        "import_batch_id": import_batch_id,
        "acting_user_id": acting_user.pk if acting_user else None,
        "ip": ip,
    }

    def send() -> None:
        try:
            current_app.tasks[VERIFY_ON_RECORD_TASK].apply_async(kwargs=kwargs, retry=False)
        except Exception:
            logger.warning(
                "broker unavailable: claims of institution %s recorded without their checks",
                institution.pk,
            )

    transaction.on_commit(send)
    return True
