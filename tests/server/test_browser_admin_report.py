"""An administrator reads a program's report in headless Chromium: from the program page to
the report, its charts loaded as SVG, one exam chosen, the XLSX export downloaded and read
back by openpyxl with the figures of the page.  The program is the hand-counted one of
test_server_admin_report.py; screenshots in ``test-artifacts/staff/admin-report/``."""

from __future__ import annotations

import io
import re
from pathlib import Path

from openpyxl import load_workbook

from tests.server.conftest import staff_log_in
from tests.server.test_server_admin_report import _build
from tests.server.test_server_browser import ARGS, ARTIFACTS, CHROMIUM, check_axe, pytestmark

__all__ = ["pytestmark"]

SHOTS = ARTIFACTS / "staff" / "admin-report"


def _cells(page, table: str) -> list[list[str]]:
    """The text of each cell of the body rows of the page's table ``table``."""
    return page.eval_on_selector_all(
        f"#table-{table} tbody tr",
        "(rows) => rows.map((r) => Array.from(r.cells, (c) => c.textContent.trim()))")


def test_admin_reads_the_report_and_downloads_the_workbook(app, demo, live_server):
    from playwright.sync_api import sync_playwright

    ids = _build(app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800},
                                       accept_downloads=True).new_page()
            page.set_default_timeout(15_000)
            charts: list[tuple[str, int, str]] = []
            page.on("response", lambda r: charts.append(
                (r.url, r.status, r.headers.get("content-type", "")))
                if "/report/chart.svg" in r.url else None)
            staff_log_in(page, live_server, demo.accounts.admin, r"/admin/$")
            page.click("text=LAPOR")
            page.click("#program-report a")
            page.wait_for_url(re.compile(rf"/admin/programs/{ids['program']}/report$"))

            # every chart is an SVG that the browser drew, beside its table
            page.wait_for_function("() => Array.from(document.images).every("
                                   "(i) => i.complete && i.naturalWidth > 0)")
            assert page.locator("figure.chart img").count() == 5
            assert len(charts) == 5 and all(status == 200 and kind.startswith("image/svg+xml")
                                            for _url, status, kind in charts), charts
            assert _cells(page, "attempt_numbers")[2] == [
                "materi M1: Etika", "2", "5", "3", "60,0 %"]
            page.screenshot(path=str(SHOTS / "01-report.png"), full_page=True)
            check_axe(page, "admin report")

            # one exam: the materi M1 exam only
            page.select_option("#exam_id", str(ids["U-M1"]))
            page.click("form[method=get] button")
            page.wait_for_url(re.compile(rf"exam_id={ids['U-M1']}"))
            page.wait_for_function("() => Array.from(document.images).every("
                                   "(i) => i.complete && i.naturalWidth > 0)")
            assert page.locator("figure.chart img").count() == 2
            shown = _cells(page, "attempt_numbers")
            page.screenshot(path=str(SHOTS / "02-report-one-exam.png"), full_page=True)

            # the workbook of what is shown, read back
            with page.expect_download() as download:
                page.click("#export-xlsx")
            assert download.value.suggested_filename == "laporan-LAPOR.xlsx"
            data = Path(download.value.path()).read_bytes()
            (SHOTS / "laporan-LAPOR.xlsx").write_bytes(data)
            sheet = load_workbook(io.BytesIO(data))["Nomor percobaan"]
            rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
            assert rows == [["materi M1: Etika", 1, 10, 5, 50],
                            ["materi M1: Etika", 2, 5, 3, 60],
                            ["materi M1: Etika", 3, 2, 1, 50]]
            assert [[r[0], str(r[1]), str(r[2]), str(r[3]), f"{r[4]:.1f} %".replace(".", ",")]
                    for r in rows] == shown
        finally:
            browser.close()
