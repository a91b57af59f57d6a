"""The whole SPEC.md flow in headless Chromium against the real server.

Needs the Debian package ``chromium`` (``apt-get install -y chromium``) and the PyPI package
``playwright`` driving /usr/bin/chromium (no browser download).  Answers are chosen from the
key read in the database by the test (to force pass or fail), never from anything the page
gets.  Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server import bank
from server.extensions import Database

CHROMIUM = os.environ.get("SMARTCAT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() not in ("1", "true"),
    reason=f"{CHROMIUM} missing: apt-get install -y chromium")]


class Examinee:
    def __init__(self, app, page, base: str) -> None:
        self.app, self.page, self.base = app, page, base
        self.shots = 0

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.shots += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.shots:02d}-{name}.png"), full_page=True)

    def current(self, attempt_id: int) -> tuple[str, int]:
        """Stem and displayed key position of the attempt's current item (from the DB)."""
        with Database.factory(self.app)() as s:
            response = s.scalar(select(bank.Response).where(
                bank.Response.attempt_id == attempt_id, bank.Response.answered_at.is_(None))
                .order_by(bank.Response.position.desc()))
            return response.item.stem, list(response.shown_order).index(response.item.key)

    def start(self, code: str) -> int:
        self.page.goto(f"{self.base}/programs")
        self.page.click(f"#exam-{code} .start")
        # The rules page first; a once-only exam starts only once it is confirmed.
        self.page.wait_for_url(re.compile(r"/exams/\d+/rules$"))
        if self.page.locator("#confirm").count():
            self.page.click("#start-button")  # not confirmed: refused, nothing started
            assert self.page.locator("#confirm").count() == 1
            self.page.check("#confirm")
        self.page.click("#start-button")
        self.page.wait_for_url(re.compile(r"/attempts/\d+$"))
        self.wait_item()
        return int(self.page.url.rsplit("/", 1)[1])

    def wait_item(self) -> None:
        self.page.wait_for_function(
            "() => document.getElementById('stem') && document.getElementById('stem').textContent")

    def answer_all(self, attempt_id: int, correct: bool, *, reload_after: int | None = None,
                   ) -> None:
        answered = 0
        while "/result" not in self.page.url:
            stem, key = self.current(attempt_id)
            # the page shows the item the server says is current
            assert self.page.text_content("#stem") == stem
            choice = key if correct else (key + 1) % 4
            position = self.page.text_content("#progress-pos")
            n = self.page.locator("#options li[role=radio]").count()
            # the hint names the keys of this item's options
            assert f"1-{n}" in self.page.text_content("#hint")
            assert f"A-{'ABCDEFGHI'[n - 1]}" in self.page.text_content("#hint")
            if answered % 3 == 1:  # keyboard: digits and letters
                self.page.keyboard.press("1234"[choice] if answered % 6 == 1 else "ABCD"[choice])
            elif answered % 3 == 2:  # keyboard: Tab to the option, then Enter
                assert self.page.evaluate("document.activeElement.id") == "stem"
                for _ in range(choice + 1):
                    self.page.keyboard.press("Tab")
                assert self.page.evaluate("document.activeElement.dataset.choice") == str(choice)
                self.page.keyboard.press("Enter")
            else:
                self.page.click(f"#options li[data-choice='{choice}']")
            answered += 1
            self.page.wait_for_function(
                "([pos]) => location.pathname.endsWith('/result') || "
                "document.getElementById('progress-pos').textContent !== pos", arg=[position])
            if reload_after is not None and answered == reload_after and \
                    "/result" not in self.page.url:
                self.check_reload(attempt_id)

    def check_reload(self, attempt_id: int) -> None:
        self.wait_item()
        self.page.wait_for_function(
            "() => document.getElementById('countdown').textContent !== '--:--'")
        stem, position = self.page.text_content("#stem"), self.page.text_content("#progress-pos")
        left = _seconds(self.page.text_content("#countdown"))
        self.shot("exam-before-reload")
        self.page.reload()
        self.wait_item()
        self.page.wait_for_function(
            "() => document.getElementById('countdown').textContent !== '--:--'")
        assert self.page.text_content("#stem") == stem
        assert self.page.text_content("#progress-pos") == position
        again = _seconds(self.page.text_content("#countdown"))
        # The countdown resumed from the server's deadline: never more than before the reload
        # (a countdown restarted from the full time would be), less by the time the reload
        # took, for which 60 s allows a loaded machine.
        assert left - 60 <= again <= left
        self.shot("exam-after-reload")

    def result(self) -> dict:
        self.page.wait_for_url(re.compile(r"/result$"))
        return {"passed": self.page.get_attribute("#result", "data-passed") == "true",
                "verdict": self.page.text_content("#verdict").strip(),
                "score": float(self.page.text_content("#score"))}


def _seconds(text: str) -> int:
    minutes, seconds = text.strip().split(":")
    return int(minutes) * 60 + int(seconds)


def test_whole_flow_in_chromium(app, demo, live_server):
    from playwright.sync_api import sync_playwright

    nip, name, password = demo.accounts.participants[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            me = Examinee(app, page, live_server)
            page.goto(f"{live_server}/login")
            assert "Masuk peserta" in page.content()
            page.fill("input[name=nip]", nip)
            page.fill("input[name=password]", password)
            page.click("#login-form button")
            page.wait_for_url(re.compile(r"/programs$"))
            me.shot("programs")

            # Pre-assessment failed; the page is reloaded in the middle and resumes.
            attempt = me.start("PRA")
            me.shot("pre-assessment")
            # The progress of a CAT does not promise its maximum length.
            assert "paling banyak" in page.text_content(".examhead")
            assert page.is_visible("#progress-early")
            # Leaving a running exam asks first, saying that the clock keeps running.
            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
            page.click("form.logout button")
            assert asked and "tetap berjalan" in asked[0] and page.url.endswith(f"/{attempt}")
            me.answer_all(attempt, correct=False, reload_after=2)
            res = me.result()
            assert not res["passed"] and res["score"] < 85
            me.shot("pre-assessment-result")

            # Materi exams: the first failed once, then passed.
            me.answer_all(me.start("UJIAN-PP"), correct=False)
            assert not me.result()["passed"]
            me.shot("materi-failed")
            for code in ("UJIAN-PP", "UJIAN-ETIKA", "UJIAN-ADM"):
                me.answer_all(me.start(code), correct=True)
                res = me.result()
                assert res["passed"] and res["score"] >= 70, code
            me.shot("materi-passed")

            # The administrator marks the assignments done, in another browser context.
            admin = browser.new_context().new_page()
            admin.set_default_timeout(20_000)
            admin.goto(f"{live_server}/writer/login")
            admin.fill("input[name=username]", demo.accounts.admin[0])
            admin.fill("input[name=password]", demo.accounts.admin[1])
            admin.click("#login-form button")
            admin.wait_for_url(re.compile(r"/admin/$"))
            admin.click("text=PELAYANAN-PUBLIK")
            for k in range(2):
                admin.locator("form:has(input[name=nip])").nth(k).locator(
                    "input[name=nip]").fill(nip)
                admin.locator("form:has(input[name=nip])").nth(k).locator("button").click()
                admin.wait_for_selector(".flash")
            admin.screenshot(path=str(ARTIFACTS / "admin-assignments.png"), full_page=True)

            # Ujikom passed: kompeten, certificate shown, printable and verifiable.  Its time is
            # cut to 65 s here, so that the page's warnings at 5 and 1 minutes left show.
            with Database.factory(app)() as s:
                s.execute(update(bank.Exam).where(bank.Exam.code == "UJIKOM").values(
                    duration_s=65))
                s.commit()
            ujikom = me.start("UJIKOM")
            page.wait_for_function(
                "() => document.getElementById('time-warning').textContent.includes('2 menit')")
            page.wait_for_function(
                "() => document.getElementById('time-warning').textContent.includes('1 menit')"
                " && document.getElementById('countdown').classList.contains('low')",
                timeout=15_000)
            assert page.get_attribute("#time-warning", "role") == "alert"
            me.shot("ujikom-time-warning")
            me.answer_all(ujikom, correct=True)
            res = me.result()
            assert res["passed"] and res["verdict"] == "kompeten"
            me.shot("ujikom-result")
            number = page.text_content("#certificate-link").strip()
            page.click("#certificate-link")
            page.wait_for_selector("#cert-number")
            assert page.text_content("#cert-number") == number and name in page.content()
            me.shot("certificate")
            page.goto(f"{live_server}/verify/{number}")
            assert page.text_content("#verify-status") == "Sertifikat ini sah."
            me.shot("verify")

            # Phones: no participant page is wider than a 360 px screen.
            phone = browser.new_context(viewport={"width": 360, "height": 740},
                                        storage_state=page.context.storage_state()).new_page()
            with Database.factory(app)() as s:
                attempts = s.scalars(select(bank.Attempt.id)).all()
                exams = s.scalars(select(bank.Exam.id)).all()
            for path in ["/programs", f"/certificate/{number}", f"/verify/{number}",
                         *(f"/attempts/{a}/result" for a in attempts),
                         *(f"/exams/{e}/rules" for e in exams)]:
                phone.goto(f"{live_server}{path}")
                widths = phone.evaluate("[document.documentElement.scrollWidth, "
                                        "document.documentElement.clientWidth]")
                assert widths[0] <= widths[1], (path, widths)
            phone.goto(f"{live_server}/programs")
            phone.screenshot(path=str(ARTIFACTS / "phone-programs.png"), full_page=True)
        finally:
            browser.close()
