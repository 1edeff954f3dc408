"""Issuing verification certificates and answering whoever checks one (docs/CERTIFICATES.md).

A certificate vouches for one check: the request that gives a claim its current verdict (a
source's answer, a variant the source found, or a person's decision). It is issued once per
check, signed with the deployment's key (``admissions.infra.signing``); asking again returns
the same certificate. Every issue (download) and every online check is in the audit trail.
"""

import logging
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.infra import signing
from admissions.models import User
from verifications import selectors
from verifications.certificates import payload as certificate_payload
from verifications.certificates import pdf
from verifications.certificates.rules import certifiable
from verifications.enqueue import certificate_archive_enqueue
from verifications.enums import PERSON_TRIGGERS
from verifications.models import (
    Batch,
    Certificate,
    CertificateArchive,
    Claim,
    VerificationRequest,
)
from verifications.verdicts import REASONS, render_reason


logger = logging.getLogger(__name__)


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _reason(request: VerificationRequest, language: str) -> str:
    if request.reason_code in REASONS:
        return render_reason(request.reason_code, request.reason_params, language=language)
    return request.reason  # a person's own words, as written


def _statement(
    request: VerificationRequest, claim: Claim, number: str, verify_url: str, key_id: str
) -> dict[str, Any]:
    applicant = claim.applicant
    institution = claim.institution
    person = request.trigger in PERSON_TRIGGERS
    return certificate_payload.build(
        number=number,
        issued_at=timezone.now().isoformat(timespec="seconds"),
        key_id=key_id,
        verify_url=verify_url,
        institution={"name": institution.name, "siret": institution.siret},
        applicant={"name": applicant.display_name, "file_reference": applicant.file_reference},
        claim={"kind": claim.kind, "declared": claim.declared},
        check={
            "request": request.pk,
            "source": request.source,
            "trigger": request.trigger,
            "at": request.finished_at.isoformat(timespec="seconds") if request.finished_at else "",
            "verdict": request.verdict,
            "reason_code": request.reason_code,
            "reason_fr": _reason(request, "fr"),
            "reason_en": _reason(request, "en"),
            "evidence_digest": request.evidence_hash,
            "requested_by": "" if person else _person(request.requested_by),
            "decided_by": _person(request.requested_by) if person else "",
        },
    )


@transaction.atomic
def certificate_issue(
    *,
    request: VerificationRequest,
    acting_user: User,
    verify_url: str,
    language: str,
    ip: str | None = None,
) -> Certificate:
    """The certificate of ``request`` (issued now if it has none), for ``acting_user`` of the
    request's institution. ``verify_url`` is the public page's address (the QR code adds the
    number and the code to it)."""
    request = (
        VerificationRequest.objects.select_for_update(of=("self",))
        .select_related("claim__applicant", "claim__institution", "requested_by")
        .get(pk=request.pk)
    )
    claim = request.claim
    if acting_user.institution_id != request.institution_id:
        raise ValidationError(_("Cette vérification n'est pas de votre établissement."))
    certificate = Certificate.objects.filter(request=request).first()
    first = certificate is None
    if certificate is None:
        if not certifiable(request, claim):
            raise ValidationError(
                _(
                    "Pas de certificat pour cette vérification : elle ne donne pas le verdict "
                    "actuel de la déclaration (une vérification est en cours, ou la déclaration "
                    "a changé depuis)."
                )
            )
        number = certificate_payload.new_number()
        while Certificate.objects.filter(number=number).exists():
            number = certificate_payload.new_number()
        key_id = signing.public_keys()[0].key_id
        statement = _statement(request, claim, number, verify_url, key_id)
        data = certificate_payload.canonical(statement)
        signature = signing.sign(data)
        certificate = Certificate.objects.create(
            institution_id=request.institution_id,
            request=request,
            number=number,
            code=certificate_payload.check_code(signature.value),
            kind=claim.kind,
            source=request.source,
            verdict=request.verdict,
            payload=data.decode(),
            payload_digest=certificate_payload.digest(data),
            key_id=signature.key_id,
            signature=signing.b64(signature.value),
            issued_by=acting_user,
        )
    audit_record(
        action=AuditAction.CERTIFICATE_ISSUED,
        actor=acting_user,
        institution=claim.institution,
        obj=certificate,
        applicant_id=claim.applicant_id,
        ip=ip,
        purpose="certificat de vérification",
        details={
            "number": certificate.number,
            "claim": claim.pk,
            "request": request.pk,
            "first": first,
            "language": language,
        },
    )
    return certificate


# --- Checking a certificate -----------------------------------------------------------------


@dataclass(frozen=True)
class CertificateStatus:
    certificate: Certificate
    # "valid", or why it no longer vouches: "erased", "verdict_changed", "declaration_changed"
    state: str

    @property
    def valid(self) -> bool:
        return self.state == "valid"


def certificate_state(certificate: Certificate) -> str:
    request = certificate.request
    if certificate.erased_at is not None or request is None:
        return "erased"
    claim = request.claim
    if request.question_digest and request.question_digest != claim.question_digest:
        return "declaration_changed"
    if not claim.verdict:
        return "declaration_changed"
    if claim.verdict != certificate.verdict:
        return "verdict_changed"
    return "valid"


@transaction.atomic
def certificate_check(*, number: str, code: str, ip: str | None) -> CertificateStatus | None:
    """What the public page says of the certificate ``number`` with check code ``code``: None
    when no certificate has both (the same answer for a wrong code and an unknown number)."""
    number = certificate_payload.normalise_number(number)
    code = certificate_payload.normalise_number(code)
    certificate = (
        Certificate.objects.select_related("institution", "request__claim")
        .filter(number=number, code=code)
        .first()
    )
    if certificate is None:
        return None
    status = CertificateStatus(certificate=certificate, state=certificate_state(certificate))
    audit_record(
        action=AuditAction.CERTIFICATE_CHECKED,
        actor=None,
        actor_label="public",
        institution=certificate.institution,
        obj=certificate,
        ip=ip,
        purpose="contrôle public d'un certificat",
        details={"number": certificate.number, "state": status.state},
    )
    return status


def certificates_erase(requests: Any, now: Any) -> int:
    """Blank the certificates of an applicant being erased (their payload names the person);
    they then read "revoked" online. Called by ``retention.applicant_erase``."""
    return Certificate.objects.filter(request__in=requests).update(
        erased_at=now, payload="", request=None
    )


# --- A batch's certificates in one ZIP, built in the background -------------------------------


@transaction.atomic
def certificate_archive_request(
    *, batch: Batch, acting_user: User, language: str, verify_url: str, ip: str | None = None
) -> CertificateArchive:
    """Ask for the batch's certificates as a ZIP (one PDF per check that gives its claim its
    verdict), built by a worker; an archive of the batch in that language already being built
    is the one returned."""
    if acting_user.institution_id != batch.institution_id:
        raise ValidationError(_("Ce lot n'est pas de votre établissement."))
    open_states = [CertificateArchive.State.PENDING, CertificateArchive.State.RUNNING]
    under_way = CertificateArchive.objects.filter(
        batch=batch, language=language, state__in=open_states
    ).first()
    if under_way is not None:
        return under_way
    total = len(selectors.batch_certifiable_requests(batch=batch))
    if total == 0:
        raise ValidationError(
            _("Aucune vérification de ce lot ne donne de verdict à certifier pour l'instant.")
        )
    archive = CertificateArchive.objects.create(
        institution_id=batch.institution_id,
        batch=batch,
        language=language,
        total=total,
        requested_by=acting_user,
        verify_url=verify_url,
    )
    audit_record(
        action=AuditAction.EXPORTED,
        actor=acting_user,
        institution=batch.institution,
        obj=archive,
        ip=ip,
        purpose="certificats de vérification d'un lot",
        details={"batch": batch.pk, "certificates": total, "format": "zip", "language": language},
    )
    archive_id = archive.pk

    def send() -> None:
        try:
            certificate_archive_enqueue(archive_id)
        except Exception:
            logger.warning("broker unavailable: certificate archive %s not sent", archive_id)
            CertificateArchive.objects.filter(pk=archive_id).update(
                state=CertificateArchive.State.FAILED, finished_at=timezone.now()
            )

    transaction.on_commit(send)
    return archive


PROGRESS_EVERY = 10


def _archive_name(request: VerificationRequest, certificate: Certificate) -> str:
    reference = "".join(
        c if c.isalnum() or c in "-_" else "_" for c in request.claim.applicant.file_reference
    )
    return f"{reference}-{request.claim.kind}-{certificate.number}.pdf"


def certificate_archive_build(archive_id: int) -> None:
    """Build an archive (the worker's task): issue each certificate (as the person who asked,
    each issue audited), render it, add it to the ZIP, and save the file; progress is written
    every few certificates. A failure leaves the archive "failed", with what was issued kept."""
    started = CertificateArchive.objects.filter(
        pk=archive_id, state=CertificateArchive.State.PENDING
    ).update(state=CertificateArchive.State.RUNNING)
    if not started:
        return  # already built, or being built by another worker
    archive = CertificateArchive.objects.select_related("batch", "requested_by").get(pk=archive_id)
    try:
        requests = selectors.batch_certifiable_requests(batch=archive.batch)
        CertificateArchive.objects.filter(pk=archive_id).update(total=len(requests), done=0)
        with tempfile.TemporaryFile() as out:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as bundle:
                for n, request in enumerate(requests, start=1):
                    certificate = certificate_issue(
                        request=request,
                        acting_user=archive.requested_by,
                        verify_url=archive.verify_url,
                        language=archive.language,
                    )
                    data = certificate.payload.encode()
                    document = pdf.render(
                        certificate_payload.parse(data),
                        data,
                        signing.unb64(certificate.signature),
                        archive.language,
                    )
                    bundle.writestr(_archive_name(request, certificate), document)
                    if n % PROGRESS_EVERY == 0:
                        CertificateArchive.objects.filter(pk=archive_id).update(done=n)
            out.seek(0)
            name = f"lot-{archive.batch_id}-certificats-{archive.language}-{archive_id}.zip"
            archive.file.save(name, File(out), save=False)
        CertificateArchive.objects.filter(pk=archive_id).update(
            file=archive.file.name,
            done=len(requests),
            state=CertificateArchive.State.DONE,
            finished_at=timezone.now(),
        )
    except Exception:
        logger.exception("certificate archive %s failed", archive_id)
        CertificateArchive.objects.filter(pk=archive_id).update(
            state=CertificateArchive.State.FAILED, finished_at=timezone.now()
        )
        raise


def certificate_archive_downloaded(
    *, archive: CertificateArchive, acting_user: User, ip: str | None = None
) -> None:
    audit_record(
        action=AuditAction.EXPORTED,
        actor=acting_user,
        institution=archive.batch.institution,
        obj=archive,
        ip=ip,
        purpose="certificats de vérification d'un lot",
        details={"batch": archive.batch_id, "certificates": archive.total, "downloaded": True},
    )
