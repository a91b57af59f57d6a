"""The writer's and administrator's pages speak Bahasa Indonesia by default: every page of
the writer and admin blueprints (every GET route, with real rows) is fetched as a writer and as
an administrator, and none shows an English text of the catalog untranslated.  ``?lang=en``
switches them to English.

A page's visible text is its text outside tags, scripts and ``<code>`` (file headers, codes),
plus the attributes people read (placeholder, alt, title, aria-label); a catalog text is
"untranslated" when its English msgid, with any value in the place of its placeholders,
appears there as whole words although its Indonesian translation differs (and does not hold
it: "Unit" -> "Unit kerja")."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from item_bank import admin as ib_admin
from server import bank

PO = Path(__file__).resolve().parents[2] / "server/translations/id/LC_MESSAGES/messages.po"

BLUEPRINTS = ("writer.", "admin.", "logins.")
# Elements that start a new line of text: a msgid never spans two of them.
BLOCKS = {"p", "li", "td", "th", "tr", "h1", "h2", "h3", "div", "label", "option", "button",
          "br", "caption", "legend", "title", "ul", "table", "form", "fieldset", "select",
          "textarea", "header", "nav", "main", "span"}
READ_ATTRIBUTES = ("placeholder", "alt", "title", "aria-label")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self.hidden += 1
        if tag in BLOCKS:
            self.parts.append("\n")
        self.parts.extend(f"\n{value}\n" for name, value in attrs
                          if name in READ_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self.hidden -= 1
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = VisibleText()
    parser.feed(page)
    return re.sub(r"[ \t\r]+", " ", "".join(parser.parts))


def _pattern(msgid: str) -> re.Pattern | None:
    """The msgid as it reads on a page (tags out, entities decoded), any text in the place of
    its placeholders, as whole words; None for a msgid with no word of its own."""
    text = html.unescape(re.sub(r"<[^>]+>", "", msgid))
    parts = PLACEHOLDER.split(text)
    if not any(re.search(r"[A-Za-z]{2}", part) for part in parts):
        return None
    body = r"[^\n]*?".join(re.escape(part) for part in parts)
    return re.compile(rf"(?<!\w){body}(?!\w)")


@pytest.fixture(scope="module")
def english_texts() -> list[tuple[str, re.Pattern]]:
    """Every msgid whose Indonesian translation differs from it, with its pattern."""
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="id")
    texts = []
    for message in catalog:
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if msgid and any(s and s != msgid for s in strings):
            pattern = _pattern(msgid)
            # ("Unit" -> "Unit kerja": the English text is part of the Indonesian one)
            if pattern is not None and not any(pattern.search(s) for s in strings):
                texts.append((msgid, pattern))
    assert len(texts) > 300
    return texts


def untranslated(page: str, english_texts) -> list[str]:
    text = visible_text(page)
    return [msgid for msgid, pattern in english_texts if pattern.search(text)]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 60), (11, 79, 138)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def rows(app, demo, new_driver, log_responses):
    """Real rows for every page: items of every status, a calibration run with anchors, a
    running attempt (the live page), a throttled address, the demo's token and roster."""
    participant = new_driver()
    nip, _name, password = demo.accounts.participants[0]
    participant.login(nip, password)
    participant.take("PRA", correct=True, n_answers=1)
    calib = log_responses(a=[1.0] * 6, b=[-1.0, -0.5, 0.0, 0.5, 1.0, 0.0],
                          statuses=["operational"] * 4 + ["pretest"] * 2, n_persons=200)
    with participant.session() as s:
        run = bank.run_calibration(s, program_id=calib.program_id, materi_id=calib.materi_id,
                                   model="2pl", actor="penulis")
        job = bank.queue_calibration(s, program_id=calib.program_id,
                                     materi_id=calib.materi_id, model="rasch", actor="penulis")
        materi = s.scalar(select(bank.Materi).order_by(bank.Materi.id))
        items = {}
        for status in bank.ItemStatus:
            item = bank.Item(program_id=materi.program_id, materi_id=materi.id,
                             code=f"HAL-{len(items)}", stem="Apa asas pelayanan publik?",
                             options=["Kepastian hukum", "Diskriminasi"], key=0, status=status,
                             **({"a": 1.0, "b": 0.0} if status == "operational" else {}))
            s.add(item)
            s.flush()
            items[status.value] = item.id
        # an item shown in the running attempt: its page has curves and exposure
        items["shown"] = s.scalar(select(bank.Response.item_id).order_by(bank.Response.id))
        s.commit()
        ib_admin.set_program_logo(s, s.get(bank.Program, materi.program_id), _png())
        values = {"run_id": run, "job_id": job, "program_id": materi.program_id,
                  "participant_id": s.scalar(select(bank.Participant.id).where(
                      bank.Participant.nip == nip)),
                  "token_id": s.scalar(select(bank.ServiceToken.id)),
                  "attempt_id": s.scalar(select(bank.Attempt.id).where(
                      bank.Attempt.state == bank.AttemptState.STARTED)),
                  "exam_id": s.scalar(select(bank.Exam.id).order_by(bank.Exam.id)),
                  "materi_id": materi.id,
                  "assignment_id": s.scalar(select(bank.Assignment.id))}
    # a delayed account for the login throttle's table (not the demo's: they log in next)
    app.config["WTF_CSRF_ENABLED"] = False
    for _ in range(11):
        app.test_client().post("/writer/login", data={"username": "tamu", "password": "salah"})
    app.config["WTF_CSRF_ENABLED"] = True
    return values, items


def _staff_pages(app, role: str, values: dict, items: dict) -> dict[str, list[str]]:
    """endpoint -> the paths of its GET pages that ``role`` may see."""
    queries = {"logins.reset": "?address=192.0.2.9",
               "writer.items": f"?program_id={values['program_id']}&sort=exposure&order=desc"
                               "&shown_min=0&page=2",
               "writer.export_exchange": f"?program_id={values['program_id']}",
               "writer.export_items": f"?program_id={values['program_id']}",
               "admin.report": "?from=2020-01-01&to=2100-12-31",
               "admin.report_chart": "?chart=attempt-numbers"}
    pages: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(BLUEPRINTS) or "GET" not in rule.methods:
            continue
        if not {role, "anonymous"} & app.view_functions[rule.endpoint].access:
            continue
        if rule.endpoint == "writer.item_plot":  # 404 without parameters or showings
            paths = [rule.rule.replace("<int:item_id>", str(items["shown"]))]
        elif "item_id" in rule.arguments:
            paths = [rule.rule.replace("<int:item_id>", str(i)) for i in items.values()]
        else:
            paths = [re.sub(r"<int:(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)]
        pages.setdefault(rule.endpoint, []).extend(
            p + queries.get(rule.endpoint, "") for p in paths)
    return pages


@pytest.mark.parametrize("role", ["writer", "admin"])
def test_every_staff_page_is_in_indonesian_by_default(app, demo, new_driver, rows, role,
                                                      english_texts):
    values, items = rows
    staff = new_driver()
    staff.staff_login(*getattr(demo.accounts, role))
    pages = _staff_pages(app, role, values, items)
    expected = {"writer.items", "writer.new_item", "writer.edit_item", "writer.calibration",
                "writer.calibration_run", "writer.calibration_job", "writer.login"}
    if role == "admin":
        expected |= {"admin.index", "admin.program", "admin.live", "admin.tokens",
                     "admin.roster", "admin.end_attempt", "admin.report",
                     "admin.revoke_token", "admin.end_sessions", "logins.index",
                     "logins.reset", "admin.edit_program", "admin.clone_program",
                     "admin.program_status", "admin.edit_exam", "admin.exam_status",
                     "admin.edit_materi", "admin.edit_assignment"}
    problems = {}
    checked = set()
    for endpoint, paths in sorted(pages.items()):
        for path in paths:
            r = staff.client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            if r.mimetype != "text/html":
                continue
            checked.add(endpoint)
            page = r.get_data(as_text=True)
            assert '<html lang="id">' in page, path
            if found := untranslated(page, english_texts):
                problems[path] = found, [line for line in visible_text(page).splitlines()
                                         if any(re.search(rf"\b{re.escape(f)}\b", line)
                                                for f in found)][:3]
    assert expected <= checked, expected - checked
    # the error page and a page after a flash message
    r = staff.client.get("/writer/items/987654321")
    assert r.status_code == 404
    if found := untranslated(r.get_data(as_text=True), english_texts):
        problems["404"] = found
    assert not problems, problems


def test_staff_pages_switch_to_english(app, demo, new_driver, rows, english_texts):
    _values, items = rows
    staff = new_driver()
    staff.staff_login(*demo.accounts.admin)
    page = visible_text(staff.client.get(f"/writer/items/{items['draft']}?lang=en")
                        .get_data(as_text=True))
    assert "Change status" in page and "Ubah status" not in page
    assert "Status: draft · version 1" in page
    # the choice is kept in the session, also on the administrator's pages
    page = visible_text(staff.client.get("/admin/").get_data(as_text=True))
    assert "New program" in page and "Program baru" not in page
    page = visible_text(staff.client.get("/admin/?lang=id").get_data(as_text=True))
    assert "Program baru" in page and not untranslated(page, english_texts)


def test_the_check_finds_an_untranslated_text(english_texts):
    """The test above would see an English text that slipped through."""
    page = "<p>Butir soal</p><p>Calibration run #12 · Change status</p><code>name</code>"
    assert set(untranslated(page, english_texts)) == {"Change status", "Calibration",
                                                      "Calibration run #%(run)s"}
