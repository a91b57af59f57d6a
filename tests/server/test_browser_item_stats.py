"""A writer in headless Chromium searches the bank with a materi filter and a sort, moves to
another page by its number, opens an item with answers and reads its statistics: the curves
and the exposure plot load as SVG images, the distractor table has a row per ability group
with the counts logged for it.  Screenshots in ``test-artifacts/staff/stats/``; axe-core on
the search and the item page."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
from sqlalchemy import insert, select

from server import bank
from server.extensions import Database
from tests.server.conftest import staff_log_in
from tests.server.test_server_browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    check_axe,
    check_width,
    pytestmark,  # noqa: F401  (chromium, axe-core)
)

SHOTS = ARTIFACTS / "staff" / "stats"


def _answers(app) -> tuple[int, str]:
    """60 finished attempts of the demo's materi PP, over the last 9 days, that answered one
    of its operational items (final θ ~ N(0, 1), choices drawn), logged as the exam server
    logs them, with their exposure count; returns the item's id and code."""
    rng = np.random.default_rng(19)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Database.factory(app)() as s:
        materi = s.scalar(select(bank.Materi).where(bank.Materi.code == "PP"))
        item = s.scalar(select(bank.Item).where(
            bank.Item.materi_id == materi.id, bank.Item.status == bank.ItemStatus.OPERATIONAL)
            .order_by(bank.Item.id))
        exam = s.scalar(select(bank.Exam).where(bank.Exam.materi_id == materi.id))
        people = [bank.Participant(nip=str(196500000000000000 + k), name=f"Peserta {k}")
                  for k in range(60)]
        s.add_all(people)
        s.flush()
        thetas = np.sort(rng.normal(0, 1, 60))  # attempts in θ order: the thirds are 20 each
        attempts = [bank.Attempt(
            participant_id=p.id, program_id=materi.program_id, exam_id=exam.id, slot=exam.slot,
            number=1, state=bank.AttemptState.SUBMITTED, started_at=now, theta=float(t),
            deadline=now + dt.timedelta(hours=1), finished_at=now)
            for p, t in zip(people, thetas, strict=True)]
        s.add_all(attempts)
        s.flush()
        n = len(item.options)
        choices = [item.key if rng.random() < 1 / (1 + np.exp(-1.5 * t)) else
                   int(rng.choice([j for j in range(n) if j != item.key])) for t in thetas]
        s.execute(insert(bank.Response), [
            {"attempt_id": a.id, "item_id": item.id, "position": 0,
             "shown_order": list(range(n)), "choice": c, "shown_choice": c,
             "correct": c == item.key, "presented_at": now - dt.timedelta(days=k % 9),
             "answered_at": now - dt.timedelta(days=k % 9)}
            for k, (a, c) in enumerate(zip(attempts, choices, strict=True))])
        s.add(bank.ItemExposure(exam_id=exam.id, item_id=item.id, count=60))
        s.commit()
        return item.id, item.code


def test_a_writer_searches_and_reads_an_items_statistics(app, demo, live_server):
    from playwright.sync_api import sync_playwright

    item_id, code = _answers(app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(15_000)
            staff_log_in(page, live_server, demo.accounts.writer, r"/writer/items$")

            # Materi PP, the most shown first.
            page.select_option("select[name=materi_id]", label="PELAYANAN-PUBLIK / PP")
            page.select_option("select[name=sort]", "exposure")
            page.select_option("select[name=order]", "desc")
            page.click("#item-search button")
            page.wait_for_url(re.compile(r"sort=exposure"))
            assert page.text_content("#items tr:nth-child(2) td:nth-child(2)").strip() == code
            assert page.text_content("#items tr:nth-child(2) td.shown") == "60"
            assert "diurutkan menurut jumlah tampil (turun)" in page.text_content("#items caption")
            materi = {r.strip() for r in page.locator("#items td:nth-child(3)").all_text_contents()}
            assert materi == {"PELAYANAN-PUBLIK / PP"}
            page.screenshot(path=str(SHOTS / "01-search.png"), full_page=True)
            check_axe(page, "items search")

            # Page 2 by its number: the filter and the sort are kept.
            page.click("#pages a[aria-label='Halaman 2']")
            page.wait_for_url(re.compile(r"page=2"))
            assert re.search(r"materi_id=\d+.*sort=exposure|sort=exposure.*materi_id=", page.url)
            assert page.text_content("#items caption").startswith("Halaman 2 dari 7")
            assert "page=2" in page.get_attribute("#pages [aria-current=page]", "href")
            assert code not in page.text_content("#items")
            page.screenshot(path=str(SHOTS / "02-page-2.png"), full_page=True)

            # Back on page 1, open the item and read its statistics.
            page.click("#pages a[aria-label='Halaman 1']")
            page.click(f"#items a:text-is('{code}')")
            page.wait_for_url(re.compile(rf"/writer/items/{item_id}$"))
            for plot in ("#icc-plot", "#information-plot", "#exposure-plot"):
                page.wait_for_function(
                    "(s) => { const i = document.querySelector(s);"
                    " return i.complete && i.naturalWidth > 0; }", arg=plot)
                assert page.get_attribute(plot, "alt")
            # A row per third of the 60 answers; the key's column holds, for each third, the
            # count read from the logged responses.
            rows = page.locator("#distractors tr").all()[1:]
            assert [row.locator("td").nth(1).text_content() for row in rows] == ["20"] * 3
            key_cells = page.locator("#distractors td.key").all_text_contents()
            counts = [int(re.search(r"\((\d+)\)", c).group(1)) for c in key_cells]
            assert counts == [_key_count(app, item_id, third) for third in range(3)]
            assert page.locator("#curve-table tr").count() == 8
            assert page.locator("#exposure-table tr").count() == 10  # 9 days and the header
            assert page.locator("#parameter-history tr").count() >= 2
            page.screenshot(path=str(SHOTS / "03-item-statistics.png"), full_page=True)
            check_width(page, "item statistics")
            check_axe(page, "item statistics")

            # Two pretest items retired together: first without the confirmation (refused,
            # nothing changed), then with a reason and the confirmation.
            page.goto(f"{live_server}/writer/items?status=pretest")
            chosen = [int(v) for v in page.locator(
                "#items input[name=item_id]").evaluate_all("(e) => e.map((x) => x.value)")[:2]]
            for item in chosen:
                page.check(f"#items input[name=item_id][value='{item}']")
            page.select_option("#bulk-status select[name=status]", "retired")
            page.fill("#bulk-status textarea[name=reason]", "Soal bocor di grup pesan")
            page.click("#bulk-status button")
            page.wait_for_load_state()
            assert "centang kotak konfirmasi" in page.text_content("#error-message")
            assert _statuses(app, chosen) == {"pretest"}
            page.screenshot(path=str(SHOTS / "04-bulk-refused.png"), full_page=True)
            page.goto(f"{live_server}/writer/items?status=pretest")
            for item in chosen:
                page.check(f"#items input[name=item_id][value='{item}']")
            page.select_option("#bulk-status select[name=status]", "retired")
            page.fill("#bulk-status textarea[name=reason]", "Soal bocor di grup pesan")
            page.check("#bulk-status input[name=confirm]")
            page.click("#bulk-status button")
            page.wait_for_selector(".flash")
            assert _statuses(app, chosen) == {"retired"}
            page.screenshot(path=str(SHOTS / "05-bulk-retired.png"), full_page=True)
        finally:
            browser.close()


def _statuses(app, item_ids: list[int]) -> set[str]:
    with Database.factory(app)() as s:
        return {status.value for status in s.scalars(
            select(bank.Item.status).where(bank.Item.id.in_(item_ids)))}


def _key_count(app, item_id: int, third: int) -> int:
    """How many of the third ``third`` (by final θ) of the item's answers chose its key."""
    with Database.factory(app)() as s:
        key = s.get(bank.Item, item_id).key
        rows = s.execute(select(bank.Attempt.theta, bank.Response.choice)
                         .join(bank.Attempt, bank.Attempt.id == bank.Response.attempt_id)
                         .where(bank.Response.item_id == item_id)
                         .order_by(bank.Attempt.theta)).all()
    return [c for _t, c in rows[20 * third:20 * (third + 1)]].count(key)
