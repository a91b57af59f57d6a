"""The certificate (SPEC.md "Scores"): the holder's page and PDF with the agency, its logo,
the signature block, the date in the program's time zone and a QR code of ``/verify/NUMBER``;
the administrator's form for them, and what it refuses.

The PDF is read back by PDFium (pypdfium2: its text, the boxes of its characters, its images)
and its QR code decoded by ZXing: an independent reader, not our own drawing code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
import zlib

import pypdfium2
import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from server import bank
from server.extensions import Database
from tests.server.conftest import csrf_from, read_qr

ISSUED = dt.datetime(2026, 12, 1, 23, 17, tzinfo=dt.UTC)  # 06:17 WIB on 2 December


def _png(size=(300, 120), color=(11, 79, 138), text: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    Image.new("RGB", size, color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _jpeg(size=(200, 100)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def certified(app, demo, driver):
    """The first demo participant, logged in, with the pre-assessment's certificate issued at
    :data:`ISSUED`; returns (driver, number)."""
    nip, _name, password = demo.accounts.participants[0]
    driver.login(nip, password)
    result = driver.take("PRA", correct=True)
    number = result["certificate_number"]
    assert number
    with driver.session() as s:
        s.execute(update(bank.Certificate).where(bank.Certificate.number == number)
                  .values(issued_at=ISSUED))
        s.commit()
    return driver, number


@pytest.fixture
def admin(demo, new_driver):
    staff = new_driver()
    staff.staff_login(*demo.accounts.admin)
    return staff


def _save(admin, program_id: int, *, logo: bytes | None = None, filename="logo.png",
          remove_logo=False, **texts):
    page = admin.client.get(f"/admin/programs/{program_id}").get_data(as_text=True)
    data = {"agency_name": "", "signatory": "", "signatory_title": "", "place": "",
            "csrf_token": csrf_from(page), **texts}
    if logo is not None:
        data["logo"] = FileStorage(io.BytesIO(logo), filename=filename)
    if remove_logo:
        data["remove_logo"] = "yes"
    # Encoded here in memory: the test client would spool a body over 500 KB to a temporary
    # file it never closes.
    boundary, body = encode_multipart(data)
    return admin.client.post(f"/admin/programs/{program_id}/certificate", data=body,
                             content_type=f"multipart/form-data; boundary={boundary}")


def _stored(app, program_id: int) -> tuple[dict, str | None]:
    """The program's settings and the SHA-256 of its stored logo (None without one)."""
    with Database.factory(app)() as s:
        program = s.get(bank.Program, program_id)
        logo = s.get(bank.ProgramLogo, program_id)
        return dict(program.settings_json or {}), (hashlib.sha256(logo.data).hexdigest()
                                                  if logo else None)


def _pdf_text(pdf: bytes) -> tuple[str, int, list[tuple[float, float, float, float]], int,
                                   tuple[float, float]]:
    """The PDF's text (whitespace collapsed), its page count, the boxes of its characters on
    the first page, the number of images on it and its size."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        textpage = page.get_textpage()
        text = " ".join(textpage.get_text_range().split())
        boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        images = len(list(page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_IMAGE])))
        return text, len(document), boxes, images, page.get_size()
    finally:
        document.close()


def test_certificate_page_pdf_and_verify_show_the_agency_date_and_qr(app, demo, certified,
                                                                    admin):
    driver, number = certified
    program_id = demo.accounts.program_id
    nip, name, _password = demo.accounts.participants[0]
    # The upload carries a text chunk; what is stored and served is made from the pixels.
    upload = _png(text={"Comment": "<script>alert(1)</script>"})
    r = _save(admin, program_id, logo=upload, agency_name="BPSDM Provinsi Jawa Barat",
              signatory="Dr. Siti Rahmawati, M.Si.", signatory_title="Kepala Badan",
              place="Bandung")
    assert r.status_code == 302, r.get_data(as_text=True)

    page = driver.client.get(f"/certificate/{number}").get_data(as_text=True)
    assert "BPSDM Provinsi Jawa Barat" in page and name in page
    assert "Diterbitkan di Bandung pada 2 Desember 2026" in page
    assert "Dr. Siti Rahmawati, M.Si." in page and "Kepala Badan" in page
    assert 'id="agency-logo"' in page and 'id="pdf-link"' in page
    assert f"http://localhost/verify/{number}" in page.replace("<wbr>", "")

    logo = driver.client.get(f"/certificate/{number}/logo.png")
    assert logo.status_code == 200 and logo.mimetype == "image/png"
    assert b"tEXt" not in logo.data and b"script" not in logo.data
    assert Image.open(io.BytesIO(logo.data)).size == (300, 120)

    r = driver.client.get(f"/certificate/{number}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'attachment; filename="sertifikat-{number}.pdf"'
    text, pages, _boxes, images, _size = _pdf_text(r.data)
    assert pages == 1 and images == 1  # the logo; the QR code is drawn as vectors
    for expected in ("BPSDM Provinsi Jawa Barat", "Sertifikat", number, name, f"NIP {nip}",
                     "Diterbitkan di Bandung pada 2 Desember 2026", "Dr. Siti Rahmawati, M.Si.",
                     "Kepala Badan", "Pindai untuk memeriksa keasliannya"):
        assert expected in text, (expected, text)
    assert "2026-12-01" not in text and "1 Desember" not in text
    verify_url = read_qr(r.data)
    assert verify_url == f"http://localhost/verify/{number}"

    # The QR code leads to the public verdict, with the same day and the agency.
    verdict = app.test_client().get(verify_url.removeprefix("http://localhost"))
    html = verdict.get_data(as_text=True)
    assert verdict.status_code == 200 and name in html
    assert re.search(r'id="cert-date">2 Desember 2026<', html)
    assert re.search(r'id="cert-agency">BPSDM Provinsi Jawa Barat<', html)


@pytest.mark.parametrize(("zone", "issued", "day"), [
    ("Asia/Jakarta", dt.datetime(2026, 12, 1, 16, 59), "1 Desember 2026"),   # 23:59 WIB
    ("Asia/Jakarta", dt.datetime(2026, 12, 1, 17, 0), "2 Desember 2026"),    # 00:00 WIB
    ("Asia/Jayapura", dt.datetime(2026, 12, 1, 14, 59), "1 Desember 2026"),  # 23:59 WIT
    ("Asia/Jayapura", dt.datetime(2026, 12, 1, 15, 0), "2 Desember 2026"),   # 00:00 WIT
    ("Asia/Makassar", dt.datetime(2026, 12, 31, 16, 0), "1 Januari 2027"),   # 00:00 WITA
])
def test_the_date_is_the_day_of_issue_in_the_programs_zone(app, demo, certified, zone, issued,
                                                           day):
    driver, number = certified
    with driver.session() as s:
        program = s.get(bank.Program, demo.accounts.program_id)
        program.settings_json = {**(program.settings_json or {}), "timezone": zone}
        s.execute(update(bank.Certificate).where(bank.Certificate.number == number)
                  .values(issued_at=issued.replace(tzinfo=dt.UTC)))
        s.commit()
    page = driver.client.get(f"/certificate/{number}").get_data(as_text=True)
    assert f"Diterbitkan di Jakarta pada {day}" in page  # the demo program's place
    text, *_ = _pdf_text(driver.client.get(f"/certificate/{number}.pdf").data)
    assert f"Diterbitkan di Jakarta pada {day}" in text
    html = app.test_client().get(f"/verify/{number}").get_data(as_text=True)
    assert f'id="cert-date">{day}<' in html


def test_only_the_holder_gets_the_certificate_its_pdf_and_logo(app, demo, certified, admin,
                                                               new_driver):
    driver, number = certified
    holder = demo.accounts.participants[0][1]
    assert _save(admin, demo.accounts.program_id, logo=_png()).status_code == 302
    paths = (f"/certificate/{number}", f"/certificate/{number}.pdf",
             f"/certificate/{number}/logo.png")
    for path in paths:
        assert driver.client.get(path).status_code == 200, path
    other = new_driver()
    other_nip, _name, other_password = demo.accounts.participants[1]
    other.login(other_nip, other_password)
    anonymous = app.test_client()
    for path in (*paths, "/certificate/NOPE-1.pdf", "/certificate/NOPE-1/logo.png"):
        r = other.client.get(path)
        assert r.status_code == 404, path
        assert holder not in r.get_data(as_text=True), path
        assert anonymous.get(path).status_code in (302, 401), path
    # Without a logo the holder's logo address is a 404, not an empty image.
    assert _save(admin, demo.accounts.program_id, remove_logo=True).status_code == 302
    assert driver.client.get(paths[2]).status_code == 404
    assert 'id="agency-logo"' not in driver.client.get(paths[0]).get_data(as_text=True)


def _bomb() -> bytes:
    """A real decompression bomb: a valid 1-bit PNG of 20000 x 20000 pixels (50 MB of
    scanlines) that compresses to some 50 KB."""
    side = 20000
    raw = (b"\x00" + b"\x00" * (side // 8)) * side
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose start-of-frame says ``width`` x ``height``."""
    data = bytearray(_jpeg())
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


HOSTILE_LOGOS = {
    "bomb_png": (_bomb, "logo.png", "20000 × 20000"),
    "jpeg_declaring_30000": (lambda: _jpeg_declaring(30000, 30000), "logo.jpg", "30000"),
    "html_named_png": (lambda: b"<html><script>alert(1)</script></html>", "logo.png",
                       "PNG atau JPEG"),
    "svg_with_script": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
                        b"</script></svg>", "logo.svg", "PNG atau JPEG"),
    "gif": (lambda: (lambda out: (Image.new("P", (10, 10)).save(out, "GIF"),
                                  out.getvalue())[1])(io.BytesIO()), "logo.gif",
            "PNG atau JPEG"),
    "truncated_png": (lambda: _png((400, 400), (1, 2, 3))[:300], "logo.png", "rusak"),
    "empty": (lambda: b"", "logo.png", "kosong"),
    "over_512_kb": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * (600 * 1024), "logo.png",
                    "512 KB"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_LOGOS))
def test_a_hostile_logo_is_refused_and_nothing_changes(app, demo, admin, case):
    program_id = demo.accounts.program_id
    good = _png()
    assert _save(admin, program_id, logo=good, agency_name="BPSDM Lama").status_code == 302
    before = _stored(app, program_id)
    make, filename, said = HOSTILE_LOGOS[case]
    r = _save(admin, program_id, logo=make(), filename=filename, agency_name="BPSDM Baru")
    body = r.get_data(as_text=True)
    assert r.status_code == 422, (case, body[:500])
    assert said in body, (case, body[:2000])
    assert _stored(app, program_id) == before  # neither the logo nor the texts changed
    assert "Traceback" not in body


@pytest.mark.parametrize(("field", "value", "status", "said"), [
    ("agency_name", "A" * 201, 422, "200"),
    ("signatory", "Dr. Siti\nKepala", 422, "satu baris"),
    ("signatory_title", "Kepala \u202eBadan", 422, "satu baris"),  # reads otherwise than stored
    ("place", "Bandung\x00", 400, "NUL"),  # refused for every form before the handler
])
def test_a_bad_certificate_text_is_refused_and_nothing_changes(app, demo, admin, field, value,
                                                               status, said):
    program_id = demo.accounts.program_id
    assert _save(admin, program_id, logo=_png(), agency_name="BPSDM Lama",
                 place="Bogor").status_code == 302
    before = _stored(app, program_id)
    r = _save(admin, program_id, logo=_jpeg(), **{"agency_name": "BPSDM Baru", field: value})
    body = r.get_data(as_text=True)
    assert r.status_code == status and said in body, body[:2000]
    assert _stored(app, program_id) == before


def test_markup_prints_as_text_and_long_texts_stay_on_the_page(app, demo, certified, admin):
    driver, number = certified
    agency = "<script>alert('x')</script> " + " ".join(["Badan Pengembangan"] * 9)[:170]
    long_word = "Kepala" + "X" * 150  # one word wider than the signature block
    r = _save(admin, demo.accounts.program_id, agency_name=agency, signatory="S" * 200,
              signatory_title=long_word, place="P" * 200)
    assert r.status_code == 302
    page = driver.client.get(f"/certificate/{number}").get_data(as_text=True)
    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page

    text, pages, boxes, images, (width, height) = _pdf_text(
        driver.client.get(f"/certificate/{number}.pdf").data)
    assert pages == 1 and images == 0
    squeezed = text.replace(" ", "")
    for expected in (agency, "S" * 200, long_word, "P" * 200):
        assert expected.replace(" ", "") in squeezed, expected
    # Every printed character lies inside the inner frame (27 pt from the edges).
    visible = [b for b in boxes if b[2] > b[0]]
    assert visible
    assert all(27 <= left and right <= width - 27 and 27 <= bottom and top <= height - 27
               for left, bottom, right, top in visible)


def test_the_certificate_form_shows_the_values_in_force(app, demo, admin):
    program_id = demo.accounts.program_id
    assert _save(admin, program_id, agency_name="BPSDM \"Kutip\" & Co", signatory="Dr. Siti",
                 signatory_title="Kepala", place="Bogor", logo=_jpeg()).status_code == 302
    page = admin.client.get(f"/admin/programs/{program_id}").get_data(as_text=True)
    assert 'value="BPSDM &#34;Kutip&#34; &amp; Co"' in page or \
        'value="BPSDM &quot;Kutip&quot; &amp; Co"' in page
    assert 'id="current-logo"' in page and "<img" in page
    stored = admin.client.get(f"/admin/programs/{program_id}/logo.png")
    assert stored.status_code == 200 and stored.data.startswith(b"\x89PNG")  # a JPEG re-encoded
    # A blank field removes the setting: a blank line on the certificate again.
    assert _save(admin, program_id, agency_name="", logo=None).status_code == 302
    settings, sha = _stored(app, program_id)
    assert not {"agency_name", "certificate_signatory", "certificate_signatory_title",
                "certificate_place"} & set(settings)
    assert sha is not None  # no file chosen: the logo stays
    with Database.factory(app)() as s:
        actions = s.scalars(select(bank.AuditLog.action)
                            .where(bank.AuditLog.action.like("certificate%"))).all()
    assert len(actions) == 2
