"""The certificate as a one-page PDF (reportlab), with the signed payload and its signature
attached (pypdf): ``vigie-certificate.json`` holds the exact signed bytes, ``vigie-certificate.sig``
the 64 bytes of the Ed25519 signature. The printed page is rendered from the payload, in French
or English; what is signed is the payload, so both variants verify alike."""

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import segno
from django.utils import translation
from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from verifications.certificates.payload import check_code


PAYLOAD_NAME = "vigie-certificate.json"
SIGNATURE_NAME = "vigie-certificate.sig"
# A file larger than this is not a certificate (one page, two small attachments).
MAX_FILE_BYTES = 2 * 1024 * 1024

# DejaVu where the system has it (most Linux machines: every Latin, Greek and Cyrillic letter),
# else reportlab's own Bitstream Vera (Latin-1): a name is printed as written either way.
_FONT_CANDIDATES = [
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
]


class CertificateFileError(ValueError):
    """The file is not a Vigie certificate (or has lost its attachments)."""


def _fonts() -> tuple[str, str]:
    if "VigieSans" in pdfmetrics.getRegisteredFontNames():
        return "VigieSans", "VigieSans-Bold"
    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts"
    regular, bold = vera / "Vera.ttf", vera / "VeraBd.ttf"
    for candidate_regular, candidate_bold in _FONT_CANDIDATES:
        if candidate_regular.exists() and candidate_bold.exists():
            regular, bold = candidate_regular, candidate_bold
            break
    pdfmetrics.registerFont(TTFont("VigieSans", str(regular)))
    pdfmetrics.registerFont(TTFont("VigieSans-Bold", str(bold)))
    return "VigieSans", "VigieSans-Bold"


class _QrCode(Flowable):
    """The QR code of ``url`` drawn as vector squares (sharp at any zoom, no image library)."""

    def __init__(self, url: str, size: float) -> None:
        super().__init__()
        self.matrix = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        modules = len(self.matrix)
        cell = self.size / modules
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            for x, dark in enumerate(row):
                if dark:
                    canvas.rect(x * cell, self.size - (y + 1) * cell, cell, cell, stroke=0, fill=1)


def _text(value: Any) -> str:
    # Narrow no-break spaces (French number and date formats) are not in every font.
    return escape(str(value)).replace("\u202f", " ")


def render(payload: dict[str, Any], payload_bytes: bytes, signature: bytes, language: str) -> bytes:
    """The PDF of a certificate, in ``language``, with the signed bytes attached."""
    with translation.override(language):
        page = _page(payload, check_code(signature), language)
    writer = PdfWriter(clone_from=io.BytesIO(page))
    writer.add_attachment(PAYLOAD_NAME, payload_bytes)
    writer.add_attachment(SIGNATURE_NAME, signature)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page(payload: dict[str, Any], code: str, language: str) -> bytes:
    from verifications.certificates.words import statement

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=colors.grey)
    title = ParagraphStyle("title", parent=body, fontName=bold, fontSize=17, leading=21)
    heading = ParagraphStyle("heading", parent=body, fontName=bold, fontSize=11, leading=15)
    verdict_style = ParagraphStyle("verdict", parent=body, fontName=bold, fontSize=13, leading=17)
    words = statement(payload, language)

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=14 * mm,
        title=_("Certificat de vérification %(number)s") % {"number": payload["number"]},
        author=payload["institution"].get("name", ""),
        creator="Vigie",
        lang=language,
    )
    story: list[Flowable] = [
        Paragraph(_text(_("Certificat de vérification")), title),
        Paragraph(_text(words["institution"]), body),
        Spacer(1, 4 * mm),
    ]
    ident = Table(
        [
            [Paragraph(_text(_("Numéro")), small), Paragraph(_text(_("Code de contrôle")), small)],
            [Paragraph(_text(payload["number"]), heading), Paragraph(_text(code), heading)],
        ],
        colWidths=[60 * mm, 60 * mm],
        hAlign="LEFT",
    )
    story += [ident, Spacer(1, 4 * mm)]

    def rows(pairs: list[tuple[str, str]]) -> Table:
        table = Table(
            [[Paragraph(_text(k), small), Paragraph(_text(v), body)] for k, v in pairs],
            colWidths=[48 * mm, 126 * mm],
            hAlign="LEFT",
        )
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.lightgrey),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        return table

    story += [Paragraph(_text(_("Candidat")), heading), rows(words["applicant"])]
    story += [Spacer(1, 3 * mm), Paragraph(_text(_("Déclaration")), heading)]
    story += [rows(words["claim"])]
    story += [Spacer(1, 3 * mm), Paragraph(_text(_("Vérification")), heading)]
    story += [Paragraph(_text(words["verdict"]), verdict_style), Spacer(1, 1 * mm)]
    story += [rows(words["check"])]
    story += [Spacer(1, 5 * mm)]
    qr = _QrCode(f"{payload['verify_url']}{payload['number']}/{code}/", 34 * mm)
    how = [
        Paragraph(_text(_("Authentifier ce certificat")), heading),
        Paragraph(_text(words["verify_online"]), body),
        Spacer(1, 2 * mm),
        Paragraph(_text(words["verify_offline"]), small),
    ]
    footer = Table([[qr, how]], colWidths=[40 * mm, 134 * mm], hAlign="LEFT")
    footer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [footer, Spacer(1, 3 * mm), Paragraph(_text(words["scope"]), small)]
    doc.build(story)
    return out.getvalue()


def read(data: bytes) -> tuple[bytes, bytes]:
    """The signed payload and the signature attached to a certificate PDF."""
    if len(data) > MAX_FILE_BYTES:
        raise CertificateFileError("file too large to be a Vigie certificate")
    try:
        attachments = PdfReader(io.BytesIO(data)).attachments
        payload = attachments.get(PAYLOAD_NAME)
        signature = attachments.get(SIGNATURE_NAME)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CertificateFileError(f"not a readable PDF ({exc.__class__.__name__})") from exc
    if not payload or not signature:
        raise CertificateFileError(
            f"no {PAYLOAD_NAME} and {SIGNATURE_NAME} attached: not a Vigie certificate"
        )
    return payload[0], signature[0]
