"""The certificate as a PDF (``GET /certificate/<number>.pdf``), drawn with ReportLab.

One A4 page in landscape: the agency's logo and name at the top, the title and the
certificate's number, the holder (name, NIP), the program, the route and the score; at the
bottom the QR code of the public verification page with its address printed under it, and
the signature block (place and date of issue, a line to sign on, the signatory's name and
position; blank lines to fill in by hand where the program has none).

Every visible text comes from the message catalog in the request's language, the date is
the day of issue in the program's time zone (:func:`server.i18n.format_date_local`).  Texts
are drawn as plain strings (``drawString``), never parsed as markup, so an agency called
``<script>`` prints as just that; long texts are wrapped and, if need be, set smaller so
that the page never overflows.  The font is Bitstream Vera, which ships with ReportLab (the
same page on every machine), embedded as a subset.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from server.bank import CertificateDocument
from server.i18n import format_date_local, format_score, gettext

__all__ = ["certificate_pdf", "qr_drawing", "qr_svg"]

PAGE = landscape(A4)
BLUE = HexColor("#0b4f8a")
GREY = HexColor("#57606a")
INK = HexColor("#1b1f24")
FONT, BOLD = "SmartCatVera", "SmartCatVera-Bold"
_fonts_registered = False


def _register_fonts() -> None:
    global _fonts_registered
    if not _fonts_registered:
        # Found on ReportLab's own font path (reportlab/fonts).
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
        _fonts_registered = True


def route_text(route: str) -> str:
    return gettext("pre-assessment") if route == "pre_assessment" else gettext("ujikom")


def issue_line(document: CertificateDocument) -> str:
    """"Issued in PLACE on DATE" (or without the place), the date in the program's zone."""
    date = format_date_local(document.issued_at, document.timezone)
    if document.place:
        return gettext("Issued in %(place)s on %(date)s", place=document.place, date=date)
    return gettext("Issued on %(date)s", date=date)


# --- the QR code ---------------------------------------------------------------------------
def qr_drawing(url: str, size: float) -> Drawing:
    """ReportLab's QR code of ``url`` (error correction M, its quiet zone of 4 modules
    included) as a ``size`` × ``size`` drawing."""
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def qr_svg(url: str, size: int = 160) -> str:
    """The same QR code as an SVG image of ``size`` px: the widget's own squares written with
    presentation attributes only (no ``style``, which the pages' Content-Security-Policy
    would drop), white background, dark modules."""
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    width, height = x1 - x0, y1 - y0
    rects = []
    for shape in widget.draw().getContents():
        if getattr(shape, "fillColor", None) is None or not hasattr(shape, "width"):
            continue  # the widget's transparent background
        y = height - (shape.y - y0) - shape.height  # SVG counts y downwards
        rects.append(f'<rect x="{shape.x - x0:.3f}" y="{y:.3f}" width="{shape.width:.3f}" '
                     f'height="{shape.height:.3f}"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {width:.3f} {height:.3f}" shape-rendering="crispEdges">'
            f'<rect width="{width:.3f}" height="{height:.3f}" fill="#fff"/>'
            f'<g fill="#000">{"".join(rects)}</g></svg>')


# --- text that fits --------------------------------------------------------------------------
def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than ``width`` (a long address, a name without spaces) cut into pieces."""
    pieces, piece = [], ""
    for ch in word:
        if piece and pdfmetrics.stringWidth(piece + ch, font, size) > width:
            pieces.append(piece)
            piece = ""
        piece += ch
    return [*pieces, piece] if piece else pieces


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` points: broken at spaces, and inside words
    only where one word alone is too wide."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        for piece in (_break_word(word, font, size, width)
                      if pdfmetrics.stringWidth(word, font, size) > width else [word]):
            candidate = f"{line} {piece}" if line else piece
            if line and pdfmetrics.stringWidth(candidate, font, size) > width:
                lines.append(line)
                line = piece
            else:
                line = candidate
    return [*lines, line] if line else lines


@dataclass
class _Block:
    """Centred lines of one text in the body of the page."""

    text: str
    font: str
    size: float
    space_before: float = 0.0
    color: object = INK
    max_lines: int = 3


def _layout(blocks: list[_Block], width: float, height: float) -> tuple[float, list]:
    """The blocks' lines and sizes, set smaller (down to 60 %) until they fit ``height``."""
    scale = 1.0
    while True:
        placed, total = [], 0.0
        for block in blocks:
            size = block.size * scale
            lines = wrap(block.text, block.font, size, width)
            # A text longer than its lines allow is set smaller still, never cut.
            while len(lines) > block.max_lines and size > block.size * 0.5:
                size *= 0.92
                lines = wrap(block.text, block.font, size, width)
            leading = size * 1.22
            total += block.space_before * scale + leading * len(lines)
            placed.append((block, size, leading, lines))
        if total <= height or scale <= 0.6:
            return scale, placed
        scale *= 0.93


# --- the page ------------------------------------------------------------------------------
def certificate_pdf(document: CertificateDocument, *, verify_url: str,
                    logo_png: bytes | None) -> bytes:
    """The certificate as a one-page PDF (bytes)."""
    _register_fonts()
    width, height = PAGE
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, pageCompression=1)
    title = gettext("Certificate of competence")
    canvas.setTitle(f"{title} {document.number}")
    canvas.setAuthor(document.agency_name or "SMART CAT")
    canvas.setSubject(document.program_name)
    canvas.setCreator("SMART CAT")

    # A double frame.
    canvas.setStrokeColor(BLUE)
    canvas.setLineWidth(3)
    canvas.rect(20, 20, width - 40, height - 40)
    canvas.setLineWidth(0.8)
    canvas.rect(27, 27, width - 54, height - 54)

    top = height - 48
    if logo_png:
        reader = ImageReader(io.BytesIO(logo_png))
        pixels_w, pixels_h = reader.getSize()
        box_w, box_h = 170.0, 62.0
        scale = min(box_w / pixels_w, box_h / pixels_h)
        logo_w, logo_h = pixels_w * scale, pixels_h * scale
        canvas.drawImage(reader, (width - logo_w) / 2, top - logo_h, logo_w, logo_h,
                         mask="auto")
        top -= logo_h + 10

    body_width = width - 180
    blocks = []
    if document.agency_name:
        blocks.append(_Block(document.agency_name, BOLD, 13, color=BLUE))
    blocks += [
        _Block(title, BOLD, 30, space_before=14 if blocks else 0, color=BLUE, max_lines=1),
        _Block(gettext("Number %(number)s", number=document.number), FONT, 11,
               space_before=2, color=GREY, max_lines=2),
        _Block(gettext("This certificate is awarded to"), FONT, 12, space_before=16),
        _Block(document.name, BOLD, 24, space_before=4, max_lines=2),
        _Block(f"{gettext('NIP')} {document.nip}", FONT, 12, space_before=2),
        _Block(gettext("who has been declared competent in"), FONT, 12, space_before=12),
        _Block(document.program_name, BOLD, 16, space_before=4, max_lines=2),
        _Block(gettext("Route: %(route)s · Score: %(score)s", route=route_text(document.route),
                       score=format_score(document.score)), FONT, 12, space_before=6,
               max_lines=2),
    ]
    bottom_of_body = 212
    scale, placed = _layout(blocks, body_width, top - bottom_of_body)
    y = top
    for block, size, leading, lines in placed:
        y -= block.space_before * scale
        canvas.setFillColor(block.color)
        canvas.setFont(block.font, size)
        for line in lines:
            y -= leading
            canvas.drawCentredString(width / 2, y + (leading - size) / 2, line)

    _qr_block(canvas, verify_url)
    _signature_block(canvas, document, centre=width - 200)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _qr_block(canvas: Canvas, verify_url: str) -> None:
    """Bottom left: the QR code of the verification page, what it is for, its address."""
    size, x, y = 100.0, 60.0, 74.0
    renderPDF.draw(qr_drawing(verify_url, size), canvas, x, y)
    canvas.setFillColor(INK)
    canvas.setFont(FONT, 8)
    canvas.drawString(x + 4, y - 4, gettext("Scan to check that it is genuine"))
    canvas.setFillColor(GREY)
    canvas.setFont(FONT, 7)
    line_y = y - 14
    for line in wrap(verify_url, FONT, 7, 260)[:3]:
        canvas.drawString(x + 4, line_y, line)
        line_y -= 9


def _fitted(text: str, font: str, size: float, width: float, max_lines: int,
            smallest: float = 6.0) -> tuple[float, list[str]]:
    """``text`` wrapped to ``width``, set smaller (not below ``smallest``) until it takes at
    most ``max_lines`` lines."""
    lines = wrap(text, font, size, width)
    while len(lines) > max_lines and size > smallest:
        size = max(smallest, size - 0.5)
        lines = wrap(text, font, size, width)
    return size, lines


def _signature_block(canvas: Canvas, document: CertificateDocument, centre: float) -> None:
    """Bottom right: place and date, the space to sign, a line, the signatory's name and
    position (blank lines to write on when the program has none)."""
    half = 120.0
    canvas.setFillColor(INK)
    size, lines = _fitted(issue_line(document), FONT, 11.0, 2 * half, 4)
    canvas.setFont(FONT, size)
    y = 196.0
    for line in lines:
        canvas.drawCentredString(centre, y, line)
        y -= size * 1.2
    line_y = 104.0
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.8)
    canvas.line(centre - half, line_y, centre + half, line_y)
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.4)
    y = line_y - 15
    for text, font, size in ((document.signatory, BOLD, 11.0),
                             (document.signatory_title, FONT, 10.0)):
        if not text:
            canvas.line(centre - half * 0.8, y - 2, centre + half * 0.8, y - 2)
            y -= 16
            continue
        size, lines = _fitted(text, font, size, 2 * half, 3)
        canvas.setFont(font, size)
        for line in lines:
            canvas.drawCentredString(centre, y, line)
            y -= size * 1.2
        y -= 2
