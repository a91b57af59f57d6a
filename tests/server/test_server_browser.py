"""The whole SPEC.md flow in headless Chromium against the real server.

Needs the Debian package ``chromium`` (``apt-get install -y chromium``) and the PyPI package
``playwright`` driving /usr/bin/chromium (no browser download).  Answers are chosen from the
key read in the database by the test (to force pass or fail), never from anything the page
gets.  The flow runs at a desktop (1280x800) and a phone (390x844) viewport, with screenshots in
``test-artifacts/<width>x<height>/``.  Every participant page is checked with axe-core (npm,
``make axe``) for WCAG 2.1 A/AA violations, and one whole exam is answered by keyboard only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server import bank
from server.extensions import Database
from tests.server.conftest import read_qr, staff_log_in

CHROMIUM = os.environ.get("SMARTCAT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() not in ("1", "true"),
    reason=f"{CHROMIUM} missing: apt-get install -y chromium"), pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI", "").lower() not in ("1", "true"),
    reason=f"{AXE} missing: make axe")]


def check_axe(page, name: str) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the page as it is now: no violation.  The script is
    evaluated through the DevTools protocol, which the page's Content-Security-Policy (scripts
    from the server only) does not apply to, so the page under test stays as served."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    violations = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then((r) => r.violations.map((v) => ({id: v.id, help: v.help,"
        " nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary)})))",
        AXE_TAGS)
    assert violations == [], f"axe on {name} ({page.url}): {violations}"


def check_width(page, name: str) -> None:
    """Nothing on the page is wider than the viewport (no horizontal scrolling)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (name, page.url, widths)


CLOCK_FIELDS = {"seconds_left", "deadline", "started_at", "finished_at"}


def _without(value, keys: set[str]):
    """A JSON value with the fields named in ``keys`` left out, at any depth, and the final
    θ and SE of a finished attempt's result (the result reports them; an attempt that ran
    out of time ends on the θ it had while running, which is no leak then)."""
    if isinstance(value, dict):
        final = "stop_reason" in value and value.get("state") not in (None, "started")
        return {k: _without(v, keys) for k, v in value.items()
                if k not in keys and not (final and k in ("theta", "se"))}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


class Examinee:
    def __init__(self, app, page, base: str, artifacts: Path) -> None:
        self.app, self.page, self.base, self.artifacts = app, page, base, artifacts
        self.shots = 0
        self.secrets: set[str] = set()
        self.received: list[tuple[str, bytes]] = []
        page.context.route(f"{base}/**", self._record)

    def _record(self, route) -> None:
        """Pass each request on and keep every body the participant's browser receives."""
        response = route.fetch(max_redirects=0)
        kind = response.headers.get("content-type", "")
        if kind.startswith(("text/", "application/json", "application/javascript")):
            # text the browser reads (a PDF's drawing numbers are no θ, and none are checked)
            self.received.append((route.request.url, response.body()))
        route.fulfill(response=response)

    def check_no_secrets(self, assert_no_secrets) -> None:
        """No item parameter, running θ or key field in anything the participant received."""
        assert len(self.secrets) > 20 and len(self.received) > 50  # the check saw the exam
        for url, body in self.received:
            text = body.decode("utf-8", "replace")
            if text.lstrip().startswith(("{", "[")):
                value = json.loads(text)
                assert_no_secrets(value, url)
                # The remaining time is the server's clock, not a secret (in the shortened
                # exam it can read 2.0080 like a parameter); a finished attempt's θ is its
                # result.
                text = json.dumps(_without(value, CLOCK_FIELDS))
            # A secret as a number of its own: "0.8400" inside "10.84001" is another number.
            leaked = [secret for secret in self.secrets
                      if re.search(rf"(?<![\d.]){re.escape(secret)}", text)]
            assert not leaked, (url, leaked)

    def shot(self, name: str, *, axe: bool = False) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        self.page.screenshot(path=str(self.artifacts / f"{self.shots:02d}-{name}.png"),
                             full_page=True)
        check_width(self.page, name)
        if axe:
            check_axe(self.page, name)

    def current(self, attempt_id: int) -> tuple[str, int]:
        """Stem and displayed key position of the attempt's current item (from the DB).  The
        item's parameters and the attempt's running θ go into ``secrets``: none of them may
        ever reach the browser."""
        with Database.factory(self.app)() as s:
            response = s.scalar(select(bank.Response).where(
                bank.Response.attempt_id == attempt_id, bank.Response.answered_at.is_(None))
                .order_by(bank.Response.position.desc()))
            item = response.item
            for value in (item.a, item.b, item.c, response.attempt.theta, response.attempt.se):
                if value is not None and round(value, 4) != round(value):
                    # as JSON or a template would write it; short forms such as "1.6" are too
                    # common in any page to tell a leak
                    self.secrets |= {text for text in (repr(value), f"{value:.4f}")
                                     if len(text.partition(".")[2]) >= 4}
            return item.stem, list(response.shown_order).index(item.key)

    def tab_to(self, selector: str) -> None:
        """Press Tab until the element matching ``selector`` has the focus."""
        for _ in range(80):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("(s) => document.activeElement === document.querySelector(s)",
                                  selector):
                return
        raise AssertionError(f"Tab never reaches {selector} on {self.page.url}")

    def start(self, code: str, *, keyboard: bool = False, axe: bool = False) -> int:
        self.page.goto(f"{self.base}/programs")
        if keyboard:
            self.tab_to(f"#exam-{code} .start")
            self.page.keyboard.press("Enter")
        else:
            self.page.click(f"#exam-{code} .start")
        # The rules page first; a once-only exam starts only once it is confirmed.
        self.page.wait_for_url(re.compile(r"/exams/\d+/rules$"))
        if axe:
            self.shot(f"rules-{code}", axe=True)
        if self.page.locator("#confirm").count():
            self.page.click("#start-button")  # not confirmed: refused, nothing started
            assert self.page.locator("#confirm").count() == 1
            self.page.check("#confirm")
        if keyboard:
            self.tab_to("#start-button")
            self.page.keyboard.press("Enter")
        else:
            self.page.click("#start-button")
        self.page.wait_for_url(re.compile(r"/attempts/\d+$"))
        self.wait_item()
        return int(self.page.url.rsplit("/", 1)[1])

    def wait_item(self) -> None:
        self.page.wait_for_function(
            "() => document.getElementById('stem') && document.getElementById('stem').textContent")

    def answer_all(self, attempt_id: int, correct: bool, *, reload_after: int | None = None,
                   keyboard: bool = False, axe: bool = False) -> None:
        """Answer until the result page.  ``keyboard``: by keys only, taking turns with digits,
        letters, Tab into the options then the arrows and Enter, and the arrows with Space."""
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
            # each new question takes the focus (the first too, unless the test clicked away)
            if answered:
                assert self.page.evaluate("document.activeElement.id") == "stem"
            if answered == 0 and axe:
                self.shot("exam", axe=True)
            way = answered % 4 if keyboard else answered % 3
            if way == 1:  # digits and letters
                key = "123456789"[choice] if answered % 2 else "ABCDEFGHI"[choice]
                self.page.keyboard.press(key)
            elif way in (2, 3):  # Tab into the group (one tab stop), arrows, Enter or Space
                self.page.keyboard.press("Tab")
                assert self.page.evaluate("document.activeElement.dataset.choice") == "0"
                if way == 2:
                    for _ in range(choice):
                        self.page.keyboard.press("ArrowDown")
                else:  # up from the first option goes round to the last
                    for _ in range(n - choice):
                        self.page.keyboard.press("ArrowUp")
                assert self.page.evaluate("document.activeElement.dataset.choice") == str(choice)
                self.page.keyboard.press("Enter" if way == 2 else " ")
            elif keyboard:
                self.page.keyboard.press("123456789"[choice])
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


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
def test_whole_flow_in_chromium(app, demo, live_server, no_secrets, viewport):
    from playwright.sync_api import sync_playwright

    width, height = viewport
    artifacts = ARTIFACTS / f"{width}x{height}"
    nip, name, password = demo.accounts.participants[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(20_000)
            me = Examinee(app, page, live_server, artifacts)
            page.goto(f"{live_server}/login")
            assert "Masuk peserta" in page.content()
            me.shot("login", axe=True)
            page.fill("input[name=nip]", nip)
            page.fill("input[name=password]", password)
            page.click("#login-form button")
            page.wait_for_url(re.compile(r"/programs$"))
            me.shot("programs", axe=True)

            # Pre-assessment failed; the page is reloaded in the middle and resumes.
            attempt = me.start("PRA", axe=True)
            me.shot("pre-assessment")
            # The progress of a CAT does not promise its maximum length.
            assert "paling banyak" in page.text_content(".examhead")
            assert page.is_visible("#progress-early")
            # Leaving a running exam asks first, saying that the clock keeps running.
            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
            page.click("form.logout button")
            assert asked and "tetap berjalan" in asked[0] and page.url.endswith(f"/{attempt}")
            # The exam page fits the narrowest phone too.
            page.set_viewport_size({"width": 360, "height": 740})
            check_width(page, "exam at 360 px")
            page.set_viewport_size({"width": width, "height": height})
            me.answer_all(attempt, correct=False, reload_after=2, axe=True)
            res = me.result()
            assert not res["passed"] and res["score"] < 85
            me.shot("pre-assessment-result", axe=True)

            # Materi exams: the first failed once, then passed; one of them by keyboard only.
            me.answer_all(me.start("UJIAN-PP"), correct=False)
            assert not me.result()["passed"]
            me.shot("materi-failed")
            for code in ("UJIAN-PP", "UJIAN-ETIKA", "UJIAN-ADM"):
                keyboard = code == "UJIAN-ETIKA"
                me.answer_all(me.start(code, keyboard=keyboard), correct=True, keyboard=keyboard)
                res = me.result()
                assert res["passed"] and res["score"] >= 70, code
            me.shot("materi-passed", axe=True)
            me.tab_to("#back")  # the way on from the result is reachable by keyboard

            # The administrator marks the assignments done, in another browser context.
            admin = browser.new_context().new_page()
            admin.set_default_timeout(20_000)
            staff_log_in(admin, live_server, demo.accounts.admin, r"/admin/$")
            admin.click("text=PELAYANAN-PUBLIK")
            for k in range(2):
                admin.locator("form:has(input[name=nip])").nth(k).locator(
                    "input[name=nip]").fill(nip)
                admin.locator("form:has(input[name=nip])").nth(k).locator("button").click()
                admin.wait_for_selector(".flash")
            artifacts.mkdir(parents=True, exist_ok=True)
            admin.screenshot(path=str(artifacts / "admin-assignments.png"), full_page=True)

            # Ujikom passed: kompeten, certificate shown, printable and verifiable.  Its time is
            # cut to 66 s here, so that the page's warnings at 5 and 1 minutes left show (the
            # first says "2 menit" for the 6 s the page has to load on a busy machine).
            with Database.factory(app)() as s:
                s.execute(update(bank.Exam).where(bank.Exam.code == "UJIKOM").values(
                    duration_s=66))
                s.commit()
            ujikom = me.start("UJIKOM")
            page.wait_for_function(
                "() => document.getElementById('time-warning').textContent.includes('2 menit')")
            page.wait_for_function(
                "() => document.getElementById('time-warning').textContent.includes('1 menit')"
                " && document.getElementById('countdown').classList.contains('low')",
                timeout=20_000)
            assert page.get_attribute("#time-warning", "role") == "alert"
            me.shot("ujikom-time-warning", axe=True)
            me.answer_all(ujikom, correct=True)
            res = me.result()
            assert res["passed"] and res["verdict"] == "kompeten"
            me.shot("ujikom-result", axe=True)
            number = page.text_content("#certificate-link").strip()
            page.click("#certificate-link")
            page.wait_for_selector("#cert-number")
            assert page.text_content("#cert-number") == number and name in page.content()
            me.shot("certificate", axe=True)
            # The PDF, downloaded as the participant would, rendered and its QR code read: it
            # leads to the public verification page of this certificate.
            with page.expect_download() as download:
                page.click("#pdf-link")
            pdf = Path(download.value.path()).read_bytes()
            (artifacts / "certificate.pdf").write_bytes(pdf)
            verify_url = read_qr(pdf, artifacts / "certificate-pdf.png")
            assert verify_url == f"{live_server}/verify/{number}"
            page.goto(verify_url)
            assert page.text_content("#verify-status") == "Sertifikat ini sah."
            me.shot("verify", axe=True)

            # History: every attempt on /programs.
            page.goto(f"{live_server}/programs")
            assert page.locator("#history-UJIAN-PP li").count() == 2
            me.shot("programs-history", axe=True)

            # An error page speaks the participant's language and passes axe too.
            page.goto(f"{live_server}/certificate/NO-SUCH-NUMBER")
            assert page.text_content("#error-message") == \
                "Tidak ada sertifikat dengan nomor NO-SUCH-NUMBER."
            me.shot("error-404", axe=True)
            me.check_no_secrets(no_secrets)

            # Phones: no participant page is wider than a 360 px screen.
            phone = browser.new_context(viewport={"width": 360, "height": 740},
                                        storage_state=context.storage_state()).new_page()
            with Database.factory(app)() as s:
                attempts = s.scalars(select(bank.Attempt.id)).all()
                exams = s.scalars(select(bank.Exam.id)).all()
            for path in ["/programs", f"/certificate/{number}", f"/verify/{number}",
                         *(f"/attempts/{a}/result" for a in attempts),
                         *(f"/exams/{e}/rules" for e in exams)]:
                phone.goto(f"{live_server}{path}")
                check_width(phone, path)
        finally:
            browser.close()
