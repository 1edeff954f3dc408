"""Verification certificates (docs/CERTIFICATES.md): issued from a claim's card as a signed PDF,
authenticated offline (``certificate_verify``, the embedded payload and Ed25519 signature) and
online (the public page, by number and code), revoked when the verdict changes or the applicant
is erased, every issue and every check audited. The checks run through the pipeline against the
sandbox over real HTTP."""

import io
import json
import shutil
import struct
import subprocess
import zipfile
import zlib

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pypdf import PdfReader, PdfWriter

from admissions.enums import AuditAction, Role
from admissions.infra import signing
from admissions.models import AuditEvent
from sandbox.population import ScolariteOutcome
from tests.factories import InstitutionFactory, UserFactory
from tests.html import region
from tests.verifications.helpers import claim_for, person_with, request_for, run_until_done
from verifications.certificates import payload as certificate_payload
from verifications.certificates import pdf
from verifications.enums import ClaimKind, Verdict
from verifications.models import Certificate
from verifications.services.retention import applicant_erase


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_settings")]


@pytest.fixture
def institution():
    return InstitutionFactory(name="Lycée Victor Hugo")


@pytest.fixture
def clerk(institution):
    return UserFactory(
        institution=institution, first_name="Camille", last_name="Agent", role=Role.CLERK
    )


@pytest.fixture
def supervisor(institution):
    return UserFactory(
        institution=institution, first_name="Marie", last_name="Dupont", role=Role.SUPERVISOR
    )


def confirmed_claim(institution, by=None):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    run_until_done(request_for(claim, by))
    claim.refresh_from_db()
    assert claim.verdict == Verdict.CONFIRMED
    return claim


def download(client, claim, language="fr"):
    response = client.get(reverse("claim_certificate", args=[claim.pk]), {"langue": language})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return response.content


def page_text(document: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(document)).pages[0].extract_text().split())


def test_a_confirmed_claim_gets_a_signed_certificate_that_states_the_check(
    client, institution, clerk
):
    claim = confirmed_claim(institution, by=clerk)
    client.force_login(clerk)
    card = region(client.get(reverse("claim_card", args=[claim.pk])).text, f"claim-{claim.pk}")
    assert reverse("claim_certificate", args=[claim.pk]) in card

    document = download(client, claim)
    certificate = Certificate.objects.get()
    payload_bytes, signature = pdf.read(document)
    assert payload_bytes == certificate.payload.encode()
    statement = certificate_payload.parse(payload_bytes)
    assert signing.verify(payload_bytes, signing.Signature(statement["key_id"], signature))
    assert statement["number"] == certificate.number
    assert statement["applicant"] == {
        "name": claim.applicant.display_name,
        "file_reference": claim.applicant.file_reference,
    }
    assert statement["claim"] == {"kind": "scolarite", "declared": claim.declared}
    assert statement["check"]["verdict"] == "confirmed"
    assert statement["check"]["source"] == "api_particulier"
    assert statement["check"]["requested_by"] == "Camille Agent"
    assert statement["check"]["decided_by"] == ""
    assert len(statement["check"]["evidence_digest"]) == 64
    # Nothing of the applicant beyond name and file reference.
    assert "birth_date" not in json.dumps(statement)
    assert claim.applicant.birth_date.isoformat() not in payload_bytes.decode()

    text = page_text(document)
    assert "Certificat de vérification" in text
    assert certificate.number in text
    assert certificate.code in text
    assert "Verdict : Confirmé" in text
    assert claim.applicant.file_reference in text
    assert "Lycée Victor Hugo" in text

    event = AuditEvent.objects.get(action=AuditAction.CERTIFICATE_ISSUED)
    assert event.actor == clerk
    assert event.applicant_id == claim.applicant_id
    assert event.details["number"] == certificate.number
    assert event.details["first"] is True


def test_asking_again_gives_the_same_certificate_in_either_language(client, institution, clerk):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    french = download(client, claim, "fr")
    english = download(client, claim, "en")
    assert Certificate.objects.count() == 1
    assert pdf.read(french) == pdf.read(english)  # the same signed bytes
    text = page_text(english)
    assert "Verification certificate" in text
    assert "Verdict: Confirmed" in text
    assert AuditEvent.objects.filter(action=AuditAction.CERTIFICATE_ISSUED).count() == 2
    assert [
        e.details["first"]
        for e in AuditEvent.objects.filter(action=AuditAction.CERTIFICATE_ISSUED).order_by("seq")
    ] == [True, False]


def test_a_person_decision_is_certified_as_such(client, institution, supervisor):
    claim = confirmed_claim(institution)
    client.force_login(supervisor)
    response = client.post(
        reverse("claim_override", args=[claim.pk]),
        {"verdict": Verdict.CONTRADICTED, "justification": "pièce fausse repérée", "confirm": "on"},
    )
    assert response.status_code == 302
    statement = certificate_payload.parse(pdf.read(download(client, claim))[0])
    assert statement["check"]["verdict"] == "contradicted"
    assert statement["check"]["decided_by"] == "Marie Dupont"
    assert statement["check"]["reason_fr"] == "pièce fausse repérée"


def test_no_certificate_without_a_verdict(client, institution, clerk):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.ENROLLED), ClaimKind.SCOLARITE, institution
    )
    client.force_login(clerk)
    card = client.get(reverse("claim_card", args=[claim.pk])).text
    assert reverse("claim_certificate", args=[claim.pk]) not in card
    response = client.get(reverse("claim_certificate", args=[claim.pk]), follow=True)
    assert "Pas de certificat pour cette déclaration" in response.text
    assert not Certificate.objects.exists()


# --- Offline: certificate_verify ---------------------------------------------------------------


def test_certificate_verify_says_authentic_for_an_issued_certificate(
    client, institution, clerk, tmp_path, capsys
):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    path = tmp_path / "certificat.pdf"
    path.write_bytes(download(client, claim))
    call_command("certificate_verify", str(path))
    out = capsys.readouterr().out
    assert "authentic certificate VC-" in out
    assert "verdict:     confirmed" in out

    # With the published keys document instead of the deployment's settings.
    keys = tmp_path / "keys.json"
    keys.write_text(client.get(reverse("signing_keys")).content.decode())
    call_command("certificate_verify", str(path), "--keys", str(keys))


def _tampered(document: bytes, change) -> bytes:
    payload_bytes, signature = pdf.read(document)
    statement = json.loads(payload_bytes)
    change(statement)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    writer._root_object.pop("/Names", None)  # drop the original attachments
    writer.add_attachment(pdf.PAYLOAD_NAME, certificate_payload.canonical(statement))
    writer.add_attachment(pdf.SIGNATURE_NAME, signature)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_certificate_verify_refuses_an_altered_certificate(client, institution, clerk, tmp_path):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    path = tmp_path / "faux.pdf"
    path.write_bytes(
        _tampered(download(client, claim), lambda s: s["check"].update(verdict="contradicted"))
    )
    with pytest.raises(CommandError, match="NOT AUTHENTIC"):
        call_command("certificate_verify", str(path))


def test_certificate_verify_refuses_another_deployments_key(
    client, institution, clerk, tmp_path, settings
):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    path = tmp_path / "certificat.pdf"
    path.write_bytes(download(client, claim))
    settings.VIGIE_SIGNING_KEYS = [signing.generate_key()]
    with pytest.raises(CommandError, match="NOT AUTHENTIC"):
        call_command("certificate_verify", str(path))


def test_certificate_verify_refuses_what_is_not_a_certificate(tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(CommandError, match=r"not a readable PDF|not a Vigie certificate"):
        call_command("certificate_verify", str(path))


def test_a_rotated_key_keeps_old_certificates_authentic(client, institution, clerk, settings):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    payload_bytes, signature = pdf.read(download(client, claim))
    key_id = certificate_payload.parse(payload_bytes)["key_id"]
    settings.VIGIE_SIGNING_KEYS = [signing.generate_key(), *settings.VIGIE_SIGNING_KEYS]
    assert signing.public_keys()[0].key_id != key_id  # a new key signs now
    assert signing.verify(payload_bytes, signing.Signature(key_id, signature))
    published = client.get(reverse("signing_keys")).json()
    assert [k["key_id"] for k in published["keys"]][1] == key_id


# --- Online: the public page -------------------------------------------------------------------


def public(client, number, code):
    return client.get(reverse("certificate_public"), {"number": number, "code": code})


def test_the_public_page_authenticates_and_says_nothing_else_of_the_person(
    client, institution, clerk
):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    download(client, claim)
    client.logout()
    certificate = Certificate.objects.get()
    response = public(client, certificate.number.lower(), certificate.code)
    assert response.status_code == 200
    result = region(response.text, "certificate-result")
    assert "Certificat authentique, toujours valable" in result
    assert "badge-confirmed" in result
    assert "Lycée Victor Hugo" in result
    for personal in (
        claim.applicant.birth_name,
        claim.applicant.file_reference,
        claim.applicant.first_names[0],
    ):
        assert personal not in response.text
    event = AuditEvent.objects.get(action=AuditAction.CERTIFICATE_CHECKED)
    assert event.actor is None
    assert event.details == {"number": certificate.number, "state": "valid"}

    # The QR code's address gives the same answer.
    direct = client.get(
        reverse("certificate_public_direct", args=[certificate.number, certificate.code])
    )
    assert "Certificat authentique, toujours valable" in direct.text


def test_a_wrong_code_reads_exactly_like_an_unknown_number(client, institution, clerk):
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    download(client, claim)
    client.logout()
    certificate = Certificate.objects.get()
    wrong_code = region(public(client, certificate.number, "AAAAAAAA").text, "certificate-result")
    unknown = region(public(client, "VC-0000-0000", certificate.code).text, "certificate-result")
    assert "Aucun certificat ne correspond" in wrong_code
    assert wrong_code == unknown
    assert not AuditEvent.objects.filter(action=AuditAction.CERTIFICATE_CHECKED).exists()


def test_a_later_decision_revokes_the_certificate(client, institution, supervisor):
    claim = confirmed_claim(institution)
    client.force_login(supervisor)
    download(client, claim)
    certificate = Certificate.objects.get()
    client.post(
        reverse("claim_override", args=[claim.pk]),
        {"verdict": Verdict.CONTRADICTED, "justification": "pièce fausse repérée", "confirm": "on"},
    )
    client.logout()
    result = region(public(client, certificate.number, certificate.code).text, "certificate-result")
    assert "Certificat authentique, mais révoqué" in result
    assert "Une vérification ultérieure a changé le verdict" in result


def test_erasing_the_applicant_revokes_and_blanks_the_certificate(client, institution, supervisor):
    claim = confirmed_claim(institution)
    client.force_login(supervisor)
    download(client, claim)
    applicant_erase(
        applicant=claim.applicant, acting_user=supervisor, justification="demande du candidat"
    )
    certificate = Certificate.objects.get()
    assert certificate.payload == ""
    assert certificate.request is None
    client.logout()
    result = region(public(client, certificate.number, certificate.code).text, "certificate-result")
    assert "Le dossier du candidat a été effacé" in result


def test_the_public_page_is_rate_limited_per_address(client, settings):
    settings.VIGIE_CERTIFICATE_CHECKS_PER_HOUR = 3
    statuses = [public(client, "VC-0000-0000", "AAAAAAAA").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_public_form_refuses_empty_fields_with_a_message(client):
    response = client.get(reverse("certificate_public"), {"number": "", "code": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire" in response.text


def test_the_signing_keys_are_published(client):
    document = client.get(reverse("signing_keys")).json()
    assert document["algorithm"] == "Ed25519"
    key = document["keys"][0]
    assert key["key_id"] == signing.public_keys()[0].key_id
    assert len(signing.unb64(key["public_key"])) == 32
    assert key["pem"].startswith("-----BEGIN PUBLIC KEY-----")


def test_another_institutions_claim_has_no_certificate_for_us(client, institution, clerk):
    claim = confirmed_claim(InstitutionFactory())
    client.force_login(clerk)
    response = client.get(reverse("claim_certificate", args=[claim.pk]))
    assert response.status_code == 404
    assert not Certificate.objects.exists()


def test_openssl_verifies_the_attachments_as_docs_say(client, institution, clerk, tmp_path):
    """docs/CERTIFICATES.md: any Ed25519 tool checks the attached statement with the published
    key (here OpenSSL 3, as the document shows)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary on this machine to play the third-party tool")
    claim = confirmed_claim(institution)
    client.force_login(clerk)
    payload_bytes, signature = pdf.read(download(client, claim))
    (tmp_path / "vigie-certificate.json").write_bytes(payload_bytes)
    (tmp_path / "vigie-certificate.sig").write_bytes(signature)
    (tmp_path / "key.pem").write_text(client.get(reverse("signing_keys")).json()["keys"][0]["pem"])
    command = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
        "-in", "vigie-certificate.json", "-sigfile", "vigie-certificate.sig",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout
    (tmp_path / "vigie-certificate.json").write_bytes(
        payload_bytes.replace(b"confirmed", b"rejected")
    )
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode != 0


# --- As its reader sees it: page 1 rendered by a PDF viewer's engine (poppler), independent
# of the library that wrote it -------------------------------------------------------------------


def _poppler() -> None:
    missing = [tool for tool in ("pdftoppm", "pdftotext") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (poppler-utils: .ci/browser-deps)")


def _dark_share(png: bytes) -> float:
    """The share of dark pixels of an 8-bit grey or RGB PNG, as pdftoppm writes them."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert depth == 8
    channels = {0: 1, 2: 3}[colour]
    data, position = b"", 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        if png[position + 4 : position + 8] == b"IDAT":
            data += png[position + 8 : position + 8 + length]
        position += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels + 1  # one filter byte per row
    previous = bytearray(width * channels)
    dark = 0
    for y in range(height):
        kind = raw[y * stride]
        line = bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        dark += sum(1 for x in range(0, len(line), channels) if line[x] < 128)
        previous = line
    return dark / (width * height)


def test_page_one_renders_with_its_text_in_both_languages(client, institution, clerk, tmp_path):
    _poppler()
    claim = confirmed_claim(institution, by=clerk)
    client.force_login(clerk)
    for language, title, verdict in (
        ("fr", "Certificat de vérification", "Verdict : Confirmé"),
        ("en", "Verification certificate", "Verdict: Confirmed"),
    ):
        path = tmp_path / f"certificat-{language}.pdf"
        path.write_bytes(download(client, claim, language))
        subprocess.run(
            ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
             str(path), str(tmp_path / language)],
            check=True,
        )  # fmt: skip
        png = (tmp_path / f"{language}.png").read_bytes()
        # A page with text and a QR code on it: not blank, not a black box.
        assert 0.01 < _dark_share(png) < 0.5
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", "1", "-l", "1", str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert title in text
        assert verdict in text
        assert claim.applicant.file_reference in text
        assert "VC-" in text


# --- A batch's certificates in one ZIP --------------------------------------------------------


def finished_batch(institution, supervisor, outcomes, *, run=True):
    from verifications.models import VerificationRequest
    from verifications.services.batches import batch_verification_launch

    claims = [
        claim_for(person_with(scolarite=outcome), ClaimKind.SCOLARITE, institution)
        for outcome in outcomes
    ]
    batch = batch_verification_launch(acting_user=supervisor, claims=claims, label="Cohorte")
    for request in VerificationRequest.objects.filter(batch=batch) if run else ():
        run_until_done(request)
    return batch


def test_a_batch_s_certificates_come_as_one_zip_built_in_the_background(
    client, institution, supervisor, settings, tmp_path, django_capture_on_commit_callbacks
):
    from verifications.models import CertificateArchive
    from verifications.services.certificates import certificate_archive_build

    settings.MEDIA_ROOT = str(tmp_path)
    batch = finished_batch(
        institution,
        supervisor,
        [ScolariteOutcome.ENROLLED, ScolariteOutcome.ENROLLED, ScolariteOutcome.NOT_ENROLLED],
    )
    client.force_login(supervisor)
    page = client.get(reverse("batch_detail", args=[batch.pk])).text
    assert 'id="certificate-archive-request"' in page
    with django_capture_on_commit_callbacks(execute=False):  # no worker here: built below
        response = client.post(reverse("batch_certificates", args=[batch.pk]), {"langue": "en"})
    assert response.status_code == 302
    archive = CertificateArchive.objects.get()
    assert (archive.state, archive.total, archive.language) == ("pending", 3, "en")
    panel = client.get(reverse("batch_certificates", args=[batch.pk])).text
    assert 'hx-trigger="poll"' in panel  # polled while it is built
    assert "0 sur 3 préparés" in panel

    certificate_archive_build(archive.pk)  # the worker's task
    archive.refresh_from_db()
    assert (archive.state, archive.done) == ("done", 3)
    panel = client.get(reverse("batch_certificates", args=[batch.pk])).text
    assert "hx-trigger" not in panel
    assert "Télécharger 3 certificats (ZIP)" in panel

    download_response = client.get(
        reverse("certificate_archive_download", args=[batch.pk, archive.pk])
    )
    assert download_response["Content-Type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(download_response.streaming_content)))
    names = bundle.namelist()
    assert len(names) == 3
    numbers = set(Certificate.objects.values_list("number", flat=True))
    for name in names:
        payload_bytes, signature = pdf.read(bundle.read(name))
        statement = certificate_payload.parse(payload_bytes)
        assert statement["number"] in numbers
        assert name.endswith(f"-scolarite-{statement['number']}.pdf")
        assert signing.verify(payload_bytes, signing.Signature(statement["key_id"], signature))
    assert sorted(Certificate.objects.values_list("verdict", flat=True)) == [
        "confirmed",
        "confirmed",
        "contradicted",
    ]
    assert AuditEvent.objects.filter(action=AuditAction.CERTIFICATE_ISSUED).count() == 3
    exported = AuditEvent.objects.filter(
        action=AuditAction.EXPORTED, object_type="certificatearchive"
    )
    assert exported.count() == 2  # asked, then downloaded


def test_a_batch_with_nothing_to_certify_says_so(client, institution, supervisor):
    batch = finished_batch(institution, supervisor, [ScolariteOutcome.ENROLLED], run=False)
    client.force_login(supervisor)
    response = client.post(reverse("batch_certificates", args=[batch.pk]), follow=True)
    assert "Aucune vérification de ce lot ne donne de verdict à certifier" in response.text


def test_clerks_do_not_get_a_batch_s_certificates(client, institution, supervisor, clerk):
    batch = finished_batch(institution, supervisor, [ScolariteOutcome.ENROLLED])
    client.force_login(clerk)
    assert client.post(reverse("batch_certificates", args=[batch.pk])).status_code == 403


def test_a_source_that_did_not_answer_gives_nothing_to_certify(client, institution, clerk):
    claim = claim_for(
        person_with(scolarite=ScolariteOutcome.PROVIDER_ERROR), ClaimKind.SCOLARITE, institution
    )
    request = run_until_done(request_for(claim), max_runs=30)
    claim.refresh_from_db()
    assert (request.verdict, claim.verdict) == (Verdict.UNAVAILABLE, Verdict.UNAVAILABLE)
    client.force_login(clerk)
    card = client.get(reverse("claim_card", args=[claim.pk])).text
    assert reverse("claim_certificate", args=[claim.pk]) not in card
