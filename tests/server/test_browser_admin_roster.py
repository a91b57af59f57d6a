"""An administrator in headless Chromium: assignment completions by CSV (a refused file, then
the preview and its confirmation), the roster with its search, the live view with a time
extension (the participant's exam page shows the time grown) and a token revoked in the
page.  Screenshots in ``test-artifacts/staff/admin-roster/``; axe-core checks the pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from server import bank
from server.extensions import Database
from tests.server.conftest import staff_log_in
from tests.server.test_server_browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    Examinee,
    _seconds,
    check_axe,
    pytestmark,  # noqa: F401  (the same skips and mark)
)

# The exam page's countdown once its script has written the time left (before: "--:--").
COUNTING = "() => /\\d/.test(document.querySelector('#countdown').textContent)"
SHOTS = ARTIFACTS / "staff" / "admin-roster"


def test_admin_roster_live_and_tokens_in_chromium(app, demo, live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    nip, name, password = demo.accounts.participants[0]
    nip_b = demo.accounts.participants[1][0]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = iter(range(1, 100))

    def shot(page, label: str, axe: bool = True) -> None:
        page.screenshot(path=str(SHOTS / f"{next(shots):02d}-{label}.png"), full_page=True)
        if axe:
            check_axe(page, label)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # The participant starts the pre-assessment in a browser of their own.
            examinee = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            examinee.set_default_timeout(20_000)
            examinee.goto(f"{live_server}/login")
            examinee.fill("input[name=nip]", nip)
            examinee.fill("input[name=password]", password)
            examinee.click("#login-form button")
            examinee.wait_for_url(re.compile(r"/programs$"))
            attempt_id = Examinee(app, examinee, live_server, SHOTS / "participant").start("PRA")
            examinee.wait_for_function(COUNTING)
            before = _seconds(examinee.text_content("#countdown"))

            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(20_000)
            staff_log_in(page, live_server, demo.accounts.admin, r"/admin/$")
            page.click("text=PELAYANAN-PUBLIK")
            page.click("#roster-link")
            page.wait_for_selector("#roster")
            shot(page, "roster")

            # A file with a bad line marks nothing and names the line.
            bad = tmp_path / "tugas-salah.csv"
            bad.write_text(f"{nip},TUGAS-1\n19750101200003100,TUGAS-1\n", encoding="utf-8")
            page.set_input_files("#completion-file", str(bad))
            page.click("#bulk ~ form button")
            page.wait_for_selector("#problems")
            assert "Baris 2:" in page.text_content("#problems")
            shot(page, "completions-refused", axe=False)
            # A good one: the preview, then the confirmation.
            page.click("text=Kembali ke daftar peserta")
            good = tmp_path / "tugas.csv"
            good.write_text(f"nip,assignment\n{nip},TUGAS-1\n{nip},TUGAS-2\n{nip_b},TUGAS-1\n",
                            encoding="utf-8")
            page.set_input_files("#completion-file", str(good))
            page.click("#bulk ~ form button")
            page.wait_for_selector("#planned")
            assert page.locator("#planned tr").count() == 4
            shot(page, "completions-preview")
            page.click("#confirm-completions")
            page.wait_for_selector(".flash")
            assert "3 penyelesaian tugas ditandai" in page.text_content(".flash")

            # The roster's search finds the participant, with both assignments done.
            page.fill("#q", name.split()[0])
            page.click("form[role=search] button")
            page.wait_for_url(re.compile(r"q="))
            assert page.text_content("#roster-count").startswith("1 ")
            assert "2 dari 2 selesai" in page.text_content("#roster")
            shot(page, "roster-search", axe=False)

            # The live view: the attempt with its program, exam and zone; 10 more minutes.
            page.goto(f"{live_server}/admin/live")
            row = page.locator(f"#attempt-{attempt_id}")
            assert "PELAYANAN-PUBLIK" in row.text_content() and "WIB" in row.text_content()
            toggle = page.locator("#refresh-toggle")
            toggle.click()  # paused by the script (no reload while an invigilator works)
            assert toggle.get_attribute("aria-pressed") == "true"
            assert "dijeda" in page.text_content("#refresh-state")
            shot(page, "live")
            page.fill(f"#minutes-{attempt_id}", "10")
            page.fill(f"#reason-{attempt_id}", "Listrik padam di ruang ujian")
            row.locator("button").click()
            page.wait_for_selector(".flash")
            assert "diperpanjang 10 menit" in page.text_content(f"#attempt-{attempt_id}")
            shot(page, "live-extended", axe=False)

            examinee.reload()
            examinee.wait_for_function(COUNTING)
            after = _seconds(examinee.text_content("#countdown"))
            assert after >= before + 600 - 30, (before, after)

            # The token is revoked from its own row, after a confirmation.
            page.goto(f"{live_server}/admin/tokens")
            with Database.factory(app)() as s:
                token_id = s.scalar(select(bank.ServiceToken.id))
            page.click(f"#token-{token_id} summary")
            shot(page, "token-confirm")
            page.click(f"#revoke-{token_id}")
            page.wait_for_selector(".flash")
            assert page.locator(f"#revoke-{token_id}").count() == 0
            shot(page, "token-revoked", axe=False)
        finally:
            browser.close()
    with Database.factory(app)() as s:
        assert s.get(bank.ServiceToken, token_id).revoked_at is not None
