"""A question writer imports an item file in headless Chromium: a CSV with one bad line is
refused with that line named on the page and nothing stored, the corrected file is previewed
(what will be created), then confirmed.  Screenshots in ``test-artifacts/staff/import/``;
axe-core on both preview pages."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from server import bank
from server.extensions import Database
from tests.server.conftest import staff_log_in
from tests.server.test_server_browser import ARGS, ARTIFACTS, CHROMIUM, check_axe, pytestmark

__all__ = ["pytestmark"]  # the browser marks and skips of the harness

SHOTS = ARTIFACTS / "staff" / "import"
PROGRAM = "PELAYANAN-PUBLIK"


def _csv(materi: str, bad_key: str) -> bytes:
    # As Excel writes it in the Indonesian locale: a byte order mark, ";" and CRLF.
    return ("\ufeffid;materi;stem;option_a;option_b;option_c;key\r\n"
            f"IMPOR-1;{materi};Asas pelayanan publik yang menjamin kepastian?;Kepastian hukum;"
            "Diskriminasi;Kesewenangan;A\r\n"
            f"IMPOR-2;{materi};Standar pelayanan ditetapkan oleh?;Penyelenggara;Peserta;"
            f"Media;{bad_key}\r\n").encode()


def _items(app) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(func.count(bank.Item.id)).where(bank.Item.code.like("IMPOR-%")))


def test_writer_imports_a_csv_in_chromium(app, demo, live_server):
    from playwright.sync_api import sync_playwright

    with Database.factory(app)() as s:
        program = s.scalar(select(bank.Program).where(bank.Program.code == PROGRAM))
        materi = s.scalar(select(bank.Materi.code).where(bank.Materi.program_id == program.id)
                          .order_by(bank.Materi.id))
        program_id = program.id
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(20_000)
            staff_log_in(page, live_server, demo.accounts.writer, r"/writer/items$")

            def upload(data: bytes) -> None:
                page.goto(f"{live_server}/writer/items")
                form = page.locator("#item-file-import")
                form.locator("input[type=file]").set_input_files(
                    {"name": "soal.csv", "mimeType": "text/csv", "buffer": data})
                form.locator("select[name=program_id]").select_option(str(program_id))
                form.locator("button[type=submit]").click()
                page.wait_for_url(re.compile(r"/writer/items/import$"))

            # One bad line: the page names it (line 3, the key), nothing is stored.
            upload(_csv(materi, bad_key="F"))
            problems = page.locator("#import-problems")
            assert "baris 3" in problems.text_content()
            assert "harus berupa huruf sebuah opsi (A-E), bukan F" in problems.text_content()
            assert page.locator("#confirm-import").count() == 0
            page.screenshot(path=SHOTS / "1-bad-line.png", full_page=True)
            check_axe(page, "import preview with a problem")
            assert _items(app) == 0

            # The corrected file: the preview lists what will be created, still nothing stored.
            upload(_csv(materi, bad_key="A"))
            new = page.locator("#import-new")
            assert "IMPOR-1" in new.text_content() and "IMPOR-2" in new.text_content()
            assert "2 soal baru, 0 diubah" in page.text_content("#import-summary")
            page.screenshot(path=SHOTS / "2-preview.png", full_page=True)
            check_axe(page, "import preview")
            assert _items(app) == 0

            page.click("#confirm-import")
            page.wait_for_url(re.compile(r"/writer/items$"))
            assert "2 soal baru" in page.content()
            page.screenshot(path=SHOTS / "3-imported.png", full_page=True)
        finally:
            browser.close()
    with Database.factory(app)() as s:
        stored = dict(s.execute(select(bank.Item.code, bank.Item.status)
                                .where(bank.Item.code.like("IMPOR-%"))).all())
    assert stored == {"IMPOR-1": bank.ItemStatus.DRAFT, "IMPOR-2": bank.ItemStatus.DRAFT}
