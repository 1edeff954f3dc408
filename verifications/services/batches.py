"""Batch verification of a cohort: launching it, pausing and resuming it, re-running what
failed, finishing it, and recording the download of its results.

A verification batch is a ``Batch(kind=verification)`` and the requests that carry its id.
Its requests go through the ordinary pipeline: the dispatcher sends them at the pace the
sources allow, and neither sends (dispatcher) nor runs (worker claim) a request of a
``paused`` batch. Re-running a batch adds new requests to it; a batch's current request for a
claim is its latest one: re-running marks the requests it replaces ``superseded``
(``verifications.selectors.batch_current_requests``).

A batch is ``done`` once none of its requests is open. ``batch_finish_if_complete`` decides it
under a lock on the batch row, so that two workers finishing the last two requests at the same
time cannot both see the other's request as still open (each reads after the other commits).

Lock order: a batch's row before its institution's audit chain (``audit_record``), in every
service here and in the worker's ``verifications.pipeline.record.finish``, so that they cannot
deadlock.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.models import User
from verifications import webhook_events
from verifications.access import import_verification_allowed
from verifications.enqueue import batch_prepare_enqueue
from verifications.enums import OPEN_STATES, BatchKind, BatchStatus, RequestState, Trigger
from verifications.models import Batch, Claim, VerificationRequest
from verifications.selectors import (
    RERUNNABLE_VERDICTS,
    batch_current_requests,
    cohort_claims,
    import_claims_to_verify,
)
from verifications.services.requests import (
    kick_dispatcher_on_commit,
    verification_requests_create,
)


logger = logging.getLogger(__name__)

# Stored as written (the audit trail is not translated).
EXPORT_PURPOSE = "résultats d'une vérification groupée"


def _check_owner(batch: Batch, acting_user: User) -> None:
    if acting_user.institution_id is None or batch.institution_id != acting_user.institution_id:
        raise PermissionDenied("batch of another institution")
    if batch.kind != BatchKind.VERIFICATION:
        raise ValidationError(_("Ce lot n'est pas une vérification groupée."))


def default_label(when=None) -> str:
    when = timezone.localtime(when or timezone.now())
    return _("Vérification du %(date)s") % {
        "date": formats.date_format(when, "SHORT_DATETIME_FORMAT")
    }


@transaction.atomic
def batch_verification_launch(
    *,
    acting_user: User,
    claims: Iterable[Claim],
    label: str = "",
    ip: str | None = None,
    trigger: Trigger = Trigger.BATCH,
    import_batch: Batch | None = None,
) -> Batch:
    """Create a verification batch and a pending request for each claim (claims already
    being checked are left to their current check). The dispatcher sends them. A
    verification of an import's claims names the import (``import_batch``)."""
    if acting_user.institution_id is None:
        raise PermissionDenied("this user belongs to no institution")
    claims = list(claims)
    if any(claim.institution_id != acting_user.institution_id for claim in claims):
        raise PermissionDenied("claims of another institution")
    if not claims:
        raise ValidationError(_("Aucune déclaration à vérifier dans cette sélection."))
    batch = Batch.objects.create(
        institution_id=acting_user.institution_id,
        kind=BatchKind.VERIFICATION,
        label=(label.strip() or default_label())[:200],
        status=BatchStatus.RUNNING,
        created_by=acting_user,
        import_batch=import_batch,
    )
    try:
        with transaction.atomic():
            created = verification_requests_create(
                claims=claims, acting_user=acting_user, trigger=trigger, batch=batch, ip=ip
            )
    except IntegrityError as exc:
        # Someone opened a check of one of these claims between our look and our insert
        # (one_open_request_per_claim): launch nothing, the batch included.
        raise ValidationError(
            _(
                "Une vérification de certaines de ces déclarations vient d'être lancée par "
                "ailleurs : rien n'a été lancé. Recommencez."
            )
        ) from exc
    batch.total = created
    fields = ["total"]
    if not created:
        # Every claim was already being checked: nothing for this batch to wait for.
        batch.status = BatchStatus.DONE
        batch.finished_at = timezone.now()
        fields += ["status", "finished_at"]
    batch.save(update_fields=fields)
    if batch.finished_at is not None:
        webhook_events.batch_finished(batch, now=batch.finished_at)
    return batch


# Claims written per transaction while a batch is prepared: each part is a short transaction
# (about a quarter of a second for 2,000 requests) and a step of the page's progress.
PREPARE_CHUNK = 2000


@transaction.atomic
def batch_verification_start(
    *,
    acting_user: User,
    cohort: dict,
    label: str = "",
    ip: str | None = None,
    import_batch: Batch | None = None,
    count: int | None = None,
) -> Batch:
    """Launch a verification of a cohort (``selectors.cohort_claims``'s arguments) without
    waiting for its checks to be written: a batch ``preparing`` with the number of claims the
    cohort has now (one count), and a worker that writes their requests
    (``batch_prepare``), whose progress the batch's page shows. So launching 40,000 checks
    answers at once. The cohort is the one of the launch: claims recorded afterwards are not
    in it."""
    if acting_user.institution_id is None:
        raise PermissionDenied("this user belongs to no institution")
    if count is None:
        count = cohort_claims(user=acting_user, **cohort).count()
    if not count:
        raise ValidationError(_("Aucune déclaration à vérifier dans cette sélection."))
    batch = Batch.objects.create(
        institution_id=acting_user.institution_id,
        kind=BatchKind.VERIFICATION,
        label=(label.strip() or default_label())[:200],
        status=BatchStatus.PREPARING,
        created_by=acting_user,
        cohort=cohort,
        to_prepare=count,
        import_batch=import_batch,
    )
    # The person's request, recorded now with what it covers; the requests written later by
    # the worker are its consequence (``batch_prepare`` records none).
    audit_record(
        action=AuditAction.VERIFICATION_REQUESTED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=batch,
        object_type="batch",
        ip=ip,
        details={"count": count, "trigger": Trigger.BATCH, "background": True},
    )
    batch_id = batch.pk

    def send() -> None:
        # The row is the outbox: a broker down now delays the preparation, the beat's sweep
        # sends it once the broker is back (``batch_preparations_resend``).
        try:
            batch_prepare_enqueue(batch_id)
        except Exception:
            logger.warning("broker unavailable: batch %s will be prepared later", batch_id)

    transaction.on_commit(send)
    return batch


def batch_prepare(*, batch_id: int) -> Batch | None:
    """Write the requests of a batch launched on a cohort (the worker's task), a part at a
    time, each in its own short transaction under a lock on the batch row, then let the batch
    run. The launch recorded the person's request (``batch_verification_start``).

    Idempotent: a part takes only claims the batch has no request for yet, and the status is
    checked under the lock, so that a redelivered message (or two) neither writes a check twice
    nor starts a batch twice."""
    batch = (
        Batch.objects.filter(pk=batch_id, status=BatchStatus.PREPARING)
        .select_related("created_by", "institution")
        .first()
    )
    if batch is None or batch.created_by is None:
        return None
    user = batch.created_by
    cohort = batch.cohort
    has_request = VerificationRequest.objects.filter(batch_id=batch_id, claim_id=OuterRef("pk"))
    claims = (
        cohort_claims(user=user, **cohort)
        .filter(created_at__lte=batch.created_at)
        .exclude(Exists(has_request))
        .only("pk", "institution_id", "kind")
        .order_by("pk")
    )
    after, collisions = 0, 0
    while True:
        try:
            with transaction.atomic():
                locked = Batch.objects.select_for_update(of=("self",)).get(pk=batch_id)
                if locked.status != BatchStatus.PREPARING:
                    return locked
                # Read under the lock: a second run (a redelivered message) waits here, then
                # finds what the first one wrote.
                part = list(claims.filter(pk__gt=after)[:PREPARE_CHUNK])
                if not part:
                    break
                created = verification_requests_create(
                    claims=part, acting_user=user, trigger=Trigger.BATCH, batch=batch, audit=False
                )
                Batch.objects.filter(pk=batch_id).update(
                    prepared=F("prepared") + len(part),
                    total=F("total") + created,
                    prepared_at=timezone.now(),
                )
        except IntegrityError:
            # A check of one of these claims opened between our look and our insert
            # (one_open_request_per_question): the same part again, which now skips it.
            collisions += 1
            if collisions > 5:
                raise
            continue
        after = part[-1].pk
    with transaction.atomic():
        locked = Batch.objects.select_for_update(of=("self",)).get(pk=batch_id)
        if locked.status != BatchStatus.PREPARING:
            return locked
        total = VerificationRequest.objects.filter(batch_id=batch_id).count()
        locked.total, locked.prepared = total, max(locked.prepared, locked.to_prepare)
        locked.status = BatchStatus.RUNNING if total else BatchStatus.DONE
        locked.finished_at = None if total else timezone.now()
        locked.save(update_fields=["total", "prepared", "status", "finished_at"])
    # Checks of the first parts may all have ended while the last ones were written.
    batch_finish_if_complete(batch_id=batch_id)
    locked.refresh_from_db()
    return locked


def batch_preparations_resend(*, now=None) -> int:
    """Send again the preparation of the batches whose worker was lost (killed, or its message
    with a broker restart): still ``preparing`` and unmoved for
    ``VIGIE_BATCH_PREPARE_STALE_SECONDS`` (a part takes well under a second). A duplicate is
    harmless: ``batch_prepare`` is idempotent. Returns how many were sent."""
    from django.conf import settings
    from django.db.models import Q

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.VIGIE_BATCH_PREPARE_STALE_SECONDS)
    ids = list(
        Batch.objects.filter(status=BatchStatus.PREPARING)
        .filter(Q(prepared_at__lt=stale) | Q(prepared_at__isnull=True, created_at__lt=stale))
        .values_list("pk", flat=True)[:100]
    )
    sent = 0
    for batch_id in ids:
        # Not sent again before another period has passed.
        Batch.objects.filter(pk=batch_id).update(prepared_at=now)
        try:
            batch_prepare_enqueue(batch_id)
        except Exception:
            logger.warning("broker unavailable: batch %s will be prepared later", batch_id)
            continue
        sent += 1
    if sent:
        logger.warning("batch preparations sent again (worker or message lost): %s", sent)
    return sent


def import_verification_label(import_batch_label: str) -> str:
    """The label of an import's verification, in the current language (``batch_labels`` reads
    it back in the reader's)."""
    return _("Vérification de l'import « %(label)s »") % {"label": import_batch_label}


@transaction.atomic
def import_verification_launch(
    *,
    batch: Batch,
    acting_user: User,
    ip: str | None = None,
    trigger: Trigger = Trigger.BATCH,
) -> Batch:
    """ "Vérifier les déclarations importées": a verification batch of the import's claims not
    yet checked, which the person follows on its page like any other. A clerk may launch it for
    an import they made, a supervisor for any import of the institution
    (``verifications.access.import_verification_allowed``). With ``trigger=on_record``, the checks
    an institution that verifies claims as soon as they are recorded asks for an import
    (``import_verify_on_record``), in the importer's name."""
    if not import_verification_allowed(acting_user, batch):
        raise PermissionDenied("this person may not verify this import")
    claims = import_claims_to_verify(user=acting_user, batch=batch).select_related("institution")
    if not claims.exists():
        raise ValidationError(
            _(
                "Toutes les déclarations de cet import sont déjà vérifiées ou en cours de "
                "vérification."
            )
        )
    return batch_verification_launch(
        acting_user=acting_user,
        claims=claims,
        label=import_verification_label(batch.label),
        ip=ip,
        trigger=trigger,
        import_batch=batch,
    )


def import_verification_start(*, batch: Batch, acting_user: User, ip: str | None = None) -> Batch:
    """ "Vérifier les déclarations importées" from the import's page: as
    ``import_verification_launch``, the checks written by a worker (``batch_prepare``), so that
    an import of 10,000 applicants is launched at once. The cohort is the import's claims never
    checked; those being checked when the worker gets to them are left to their check."""
    if not import_verification_allowed(acting_user, batch):
        raise PermissionDenied("this person may not verify this import")
    with transaction.atomic():
        # Two clicks at once: the second waits for the first's batch, and finds it.
        Batch.objects.select_for_update(of=("self",)).filter(pk=batch.pk).first()
        preparing = Batch.objects.filter(
            import_batch=batch, kind=BatchKind.VERIFICATION, status=BatchStatus.PREPARING
        ).first()
        if preparing is not None:
            return preparing  # a second click while it is prepared: the same batch
        return _import_verification_start(batch=batch, acting_user=acting_user, ip=ip)


def _import_verification_start(*, batch: Batch, acting_user: User, ip: str | None) -> Batch:
    count = import_claims_to_verify(user=acting_user, batch=batch).count()
    if not count:
        raise ValidationError(
            _(
                "Toutes les déclarations de cet import sont déjà vérifiées ou en cours de "
                "vérification."
            )
        )
    return batch_verification_start(
        acting_user=acting_user,
        cohort={"batch_id": batch.pk, "verdict": "unchecked"},
        label=import_verification_label(batch.label),
        ip=ip,
        import_batch=batch,
        count=count,
    )


def import_verify_on_record(
    *, import_batch_id: int, acting_user_id: int | None, ip: str | None = None
) -> Batch | None:
    """The checks of an import's claims when its institution verifies claims as soon as they
    are recorded (``admissions.verify_on_record``): one verification batch linked to the
    import, as "Vérifier les déclarations importées" launches, so that the importer follows
    200 checks on one page instead of 200 silent ones. Nothing when the institution has turned
    the setting off since, or when every claim is checked or being checked already."""
    imported = (
        Batch.objects.filter(
            pk=import_batch_id, kind=BatchKind.IMPORT, institution__verify_on_record=True
        )
        .select_related("institution")
        .first()
    )
    importer = (
        User.objects.filter(pk=acting_user_id, is_active=True).first() if acting_user_id else None
    )
    if imported is None or importer is None:
        return None
    try:
        return import_verification_launch(
            batch=imported, acting_user=importer, ip=ip, trigger=Trigger.ON_RECORD
        )
    except (PermissionDenied, ValidationError):
        # Nothing left to check, or the importer may no longer launch it: the claims stay
        # "not checked", where one click finds them.
        return None


# The journal's action for each change of a batch's life, and the ``change`` detail it keeps.
_STATUS_ACTIONS = {
    "paused": AuditAction.BATCH_PAUSED,
    "resumed": AuditAction.BATCH_RESUMED,
    "rerun_failed": AuditAction.BATCH_RERUN,
}


def _audit_status(batch: Batch, acting_user: User, change: str, ip: str | None, **details) -> None:
    audit_record(
        action=_STATUS_ACTIONS[change],
        actor=acting_user,
        institution=acting_user.institution,
        obj=batch,
        object_type="batch",
        ip=ip,
        details={"change": change, **details},
    )


def _transition(
    batch: Batch, acting_user: User, ip: str | None, *, source: str, target: str, action: str
) -> bool:
    """Move the batch from ``source`` to ``target`` status if it is there; audited. Its pending
    requests are marked unsent: a paused batch's messages may still be in the broker (a worker
    will skip them) and no longer count against the source's share of it, so other work goes
    ahead meanwhile; on resume, the dispatcher sends them again at once."""
    _check_owner(batch, acting_user)
    moved = Batch.objects.filter(pk=batch.pk, status=source).update(status=target)
    if not moved:
        return False
    VerificationRequest.objects.filter(batch=batch, state=RequestState.PENDING).update(
        enqueued_at=None
    )
    batch.status = target
    _audit_status(batch, acting_user, action, ip)
    return True


@transaction.atomic
def batch_pause(*, batch: Batch, acting_user: User, ip: str | None = None) -> bool:
    """Stop sending the batch's requests. Checks already under way finish; the others wait.
    Returns whether the batch was running (a paused or finished batch is left as it is)."""
    return _transition(
        batch,
        acting_user,
        ip,
        source=BatchStatus.RUNNING,
        target=BatchStatus.PAUSED,
        action="paused",
    )


@transaction.atomic
def batch_resume(*, batch: Batch, acting_user: User, ip: str | None = None) -> bool:
    """Let a paused batch's requests go again; the dispatcher sends them at once."""
    if not _transition(
        batch,
        acting_user,
        ip,
        source=BatchStatus.PAUSED,
        target=BatchStatus.RUNNING,
        action="resumed",
    ):
        return False
    kick_dispatcher_on_commit()
    batch_finish_if_complete(batch_id=batch.pk)
    return True


@transaction.atomic
def batch_rerun_failed(*, batch: Batch, acting_user: User, ip: str | None = None) -> int:
    """Check again the claims whose current request in this batch ended without an answer
    from the source (``selectors.RERUNNABLE_VERDICTS``). Returns how many requests were
    created."""
    _check_owner(batch, acting_user)
    locked = Batch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    failed = batch_current_requests(batch).filter(
        state=RequestState.DONE, verdict__in=RERUNNABLE_VERDICTS
    )
    claims = list(
        Claim.objects.filter(pk__in=failed.values("claim_id")).select_related("institution")
    )
    if not claims:
        return 0
    created = verification_requests_create(
        claims=claims, acting_user=acting_user, trigger=Trigger.BATCH, batch=batch, ip=ip
    )
    # The new requests replace the failed ones in the batch (a claim busy elsewhere got no new
    # request: its failed one stays current).
    renewed = VerificationRequest.objects.filter(
        batch=batch, state__in=OPEN_STATES, claim_id__in=[claim.pk for claim in claims]
    ).values("claim_id")
    failed.filter(claim_id__in=renewed).update(superseded=True)
    if created and locked.status == BatchStatus.DONE:
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, finished_at=None)
        batch.status, batch.finished_at = BatchStatus.RUNNING, None
    _audit_status(batch, acting_user, "rerun_failed", ip, requests=created)
    return created


def batch_finish_if_complete(*, batch_id: int | None) -> bool:
    """Mark a verification batch ``done`` if none of its requests is open any more.

    Called in the transaction that finishes one of its requests. The lock on the batch row
    serialises the callers: whoever takes it second reads, after the first committed, the
    request the first one finished."""
    if batch_id is None:
        return False
    # No savepoint: nothing here is caught, and the caller's transaction is the unit.
    with transaction.atomic(savepoint=False):
        batch = (
            Batch.objects.select_for_update(of=("self",))
            .filter(
                pk=batch_id,
                kind=BatchKind.VERIFICATION,
                status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED],
            )
            .first()
        )
        if batch is None:
            return False
        if VerificationRequest.objects.filter(batch_id=batch_id, state__in=OPEN_STATES).exists():
            return False
        now = timezone.now()
        Batch.objects.filter(pk=batch_id).update(status=BatchStatus.DONE, finished_at=now)
        webhook_events.batch_finished(batch, now=now)
    return True


def batch_finish_if_complete_locked(*, batch_id: int, webhook_endpoints: bool = True) -> bool:
    """``batch_finish_if_complete`` in one statement, for a caller that already holds the
    batch's row lock in its transaction (the worker's finish: ``pipeline.record``). The
    statement starts after the lock was granted, so it sees every request finished by a
    transaction that held the lock before. The batch is read again only when it finished
    (once per batch), for its ``batch.finished`` webhook event, unless the caller knows the
    institution has no webhook endpoint (``webhook_endpoints``, read by the check's load)."""
    now = timezone.now()
    finished = bool(
        Batch.objects.filter(
            pk=batch_id,
            kind=BatchKind.VERIFICATION,
            status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED],
        )
        .exclude(
            Exists(
                VerificationRequest.objects.filter(batch_id=OuterRef("pk"), state__in=OPEN_STATES)
            )
        )
        .update(status=BatchStatus.DONE, finished_at=now)
    )
    if finished and webhook_endpoints:
        webhook_events.batch_finished(Batch.objects.get(pk=batch_id), now=now)
    return finished


@transaction.atomic
def batch_results_exported(
    *, batch: Batch, acting_user: User, file_format: str, rows: int, ip: str | None = None
) -> None:
    """Record that a person downloaded a batch's results (personal data leaving Vigie)."""
    if acting_user.institution_id is None or batch.institution_id != acting_user.institution_id:
        raise PermissionDenied("batch of another institution")
    audit_record(
        action=AuditAction.EXPORTED,
        actor=acting_user,
        institution=acting_user.institution,
        obj=batch,
        object_type="batch",
        ip=ip,
        purpose=EXPORT_PURPOSE,
        details={"format": file_format, "rows": rows},
    )
