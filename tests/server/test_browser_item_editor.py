"""A question writer in headless Chromium writes an item with a picture, a formula and five
options: a first try with two mistakes comes back with both named next to their fields and
everything typed kept, the preview draws the item with the exam page's own renderer (the
formula as MathML, the picture, options A-E), and saving stores it.  axe-core finds no WCAG 2.1
A/AA violation on the editor, with its errors and with its preview; screenshots in
``test-artifacts/staff/item-editor/``."""

from __future__ import annotations

import io
import re

from PIL import Image, ImageDraw
from sqlalchemy import select

from server import bank
from server.extensions import Database
from tests.server.conftest import staff_log_in
from tests.server.test_server_browser import ARGS, ARTIFACTS, CHROMIUM, check_axe, pytestmark

__all__ = ["pytestmark"]

SHOTS = ARTIFACTS / "staff" / "item-editor"
OPTIONS = ["2", "4", "8", "16", "$\\sqrt{8}$"]


def _figure() -> bytes:
    image = Image.new("RGB", (320, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 300, 100), outline="navy", width=4)
    draw.line((20, 100, 300, 20), fill="darkred", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_writer_creates_an_item_with_a_picture_a_formula_and_five_options(app, demo,
                                                                           live_server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Database.factory(app)() as s:
        materi = s.scalar(select(bank.Materi).order_by(bank.Materi.id))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(10_000)

            def shot(name: str) -> None:
                check_axe(page, name)
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

            staff_log_in(page, live_server, demo.accounts.writer, r"/writer/items")
            page.click("a[href$='/writer/items/new']")
            shot("new")

            # a first try: option C left empty and no key chosen
            page.fill("#f-code", "GEO-1")
            page.select_option("#f-materi_id", str(materi.id))
            stem = ("Sebuah persegi panjang berukuran $4 \\times 2$ seperti pada gambar. "
                    "Berapakah panjang diagonalnya, $\\sqrt{4^2 + 2^2}$?")
            page.fill("#f-stem", stem)
            for letter, text in zip("ABCDE", OPTIONS, strict=True):
                if letter != "C":
                    page.fill(f"#f-option_{letter}", text)
            page.set_input_files("#f-image", files=[{
                "name": "gambar.png", "mimeType": "image/png", "buffer": _figure()}])
            page.click("#save-button")
            errors = page.text_content("#form-errors")
            assert "2 masalah" in errors
            assert "Opsi C kosong" in page.text_content("#error-option_C")
            assert "Pilih opsi yang benar" in page.text_content("#error-key")
            assert page.input_value("#f-stem") == stem
            assert page.input_value("#f-option_E") == OPTIONS[4]
            assert page.locator("input[name=kept_image]").count() == 1  # the picture kept
            shot("refused")

            # corrected, then the preview: the item as the exam page draws it
            page.fill("#f-option_C", OPTIONS[2])
            page.check("#f-key-E")
            page.click("#preview-button")
            preview = page.locator("#preview")
            preview.locator("#stem math").first.wait_for()
            assert preview.locator("#stem msqrt").count() == 1
            assert preview.locator("#options li").count() == 5
            assert preview.locator("#options li").nth(4).locator("msqrt").count() == 1
            width = preview.locator("#stem-images img").evaluate("img => img.naturalWidth")
            assert width == 320
            assert "Belum disimpan." in page.text_content(".preview")
            shot("preview")

            page.click("#save-button")
            page.wait_for_url(re.compile(r"/writer/items/\d+$"))
            assert "Butir soal GEO-1 dibuat." in page.text_content("main")
            page.locator("#preview #stem-images img").wait_for()
            shot("saved")
        finally:
            browser.close()
    with Database.factory(app)() as s:
        item = s.scalar(select(bank.Item).where(bank.Item.code == "GEO-1"))
        assert (item.options, item.key, item.image_count) == (OPTIONS, 4, 1)
        assert item.stem == stem
