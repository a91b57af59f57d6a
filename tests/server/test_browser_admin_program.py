"""An administrator in headless Chromium: creates a program, is refused a misleading setting
with its reason (a pre-assessment with 3 attempts, what was typed kept), edits the program and
its settings and an exam, copies the program for a new cohort and archives an exam.  axe-core
finds no WCAG 2.1 A/AA violation on the program page and on every edit form; screenshots in
``test-artifacts/staff/admin-program/``."""

from __future__ import annotations

import re

from sqlalchemy import select

from server import bank
from server.extensions import Database
from tests.server.conftest import staff_log_in
from tests.server.test_server_browser import ARGS, ARTIFACTS, CHROMIUM, check_axe, pytestmark

__all__ = ["pytestmark"]

SHOTS = ARTIFACTS / "staff" / "admin-program"


def test_an_administrator_creates_edits_copies_and_archives(app, demo, live_server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(10_000)

            def shot(name: str, *, axe: bool = True) -> None:
                if axe:
                    check_axe(page, name)
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

            staff_log_in(page, live_server, demo.accounts.admin, r"/admin/$")

            # create a program, and its materi
            page.fill("#new-program-code", "LATSAR-2027")
            page.fill("#new-program-name", "Latihan Dasar CPNS 2027")
            page.click("form[action$='/admin/programs'] button")
            page.wait_for_url(re.compile(r"/admin/programs/\d+$"))
            page.fill("#materi-code", "WAWASAN")
            page.fill("#materi-name", "Wawasan Kebangsaan")
            page.click("form[action$='/materi'] button")
            page.wait_for_url(re.compile(r"/admin/programs/\d+$"))
            shot("program-new")   # the program page, axe-checked

            # a misleading setting refused with its reason, what was typed kept
            page.fill("#exam-code", "PRA")
            page.fill("#exam-title", "Tes penilaian awal")
            page.select_option("#exam-kind", "pre_assessment")
            page.fill("#exam-attempts", "3")
            page.fill("#exam-opens", "2027-02-01T08:00")
            page.click("form[action$='/exams'] button")
            errors = page.text_content("#form-errors")
            assert "hanya satu kali percobaan" in errors and "(isiannya 3)" in errors
            assert page.input_value("#exam-attempts") == "3"
            assert page.input_value("#exam-opens") == "2027-02-01T08:00"
            assert "WIB (Asia/Jakarta)" in page.text_content("label[for=exam-opens]")
            shot("exam-refused")
            page.fill("#exam-attempts", "")
            page.click("#save-exam")
            page.wait_for_url(re.compile(r"/admin/programs/\d+$"))
            assert "1 Februari 2027 pukul 08.00 WIB" in page.text_content("#exam-PRA")
            program_url = page.url

            # edit the program and its settings: the values in force are shown
            page.click("#program-actions a[href$='/edit']")
            assert page.text_content("#in-force-materi_pass_score") == "70.0"
            shot("program-edit")
            page.fill("#program-name", "Latihan Dasar CPNS Angkatan 2027")
            page.fill("#setting-materi_pass_score", "75")
            page.click("#save-program")
            page.wait_for_url(program_url)
            assert "Angkatan 2027" in page.text_content("h1")

            # edit the exam
            page.click("a[aria-label='Ubah ujian PRA']")
            shot("exam-edit")
            page.fill("#exam-title", "Tes penilaian awal (angkatan 2027)")
            page.click("#save-exam")
            page.wait_for_url(program_url)
            assert "angkatan 2027" in page.text_content("#exam-PRA")
            page.click("a[aria-label='Ubah materi WAWASAN']")
            shot("materi-edit")
            page.go_back()

            # copy for a new cohort
            page.click("#program-actions a[href$='/clone']")
            page.fill("#clone-code", "LATSAR 2028")
            page.fill("#clone-name", "Latihan Dasar CPNS 2028")
            page.click("#clone-program")
            assert "tanpa spasi" in page.text_content("#form-errors")
            shot("program-copy-refused")
            page.fill("#clone-code", "LATSAR-2028")
            page.click("#clone-program")
            page.wait_for_url(re.compile(r"/admin/programs/\d+$"))
            assert "LATSAR-2028" in page.text_content("h1") and page.url != program_url
            assert page.is_visible("#exam-PRA")

            # archive the copy's exam, after the confirmation page
            page.click("a[aria-label='Arsipkan atau hapus ujian PRA']")
            shot("exam-archive-confirm")
            page.click("#confirm-archive")
            page.wait_for_selector(".flash")
            assert "diarsipkan" in page.text_content("#exam-PRA")
            shot("program-copy-archived-exam")
        finally:
            browser.close()
    with Database.factory(app)() as s:
        programs = {p.code: p for p in s.scalars(select(bank.Program))}
        assert programs["LATSAR-2027"].settings.materi_pass_score == 75
        assert programs["LATSAR-2028"].settings.materi_pass_score == 75
        exams = {(e.program_id, e.code): e for e in s.scalars(select(bank.Exam))}
        assert exams[programs["LATSAR-2027"].id, "PRA"].archived_at is None
        assert exams[programs["LATSAR-2028"].id, "PRA"].archived_at is not None
