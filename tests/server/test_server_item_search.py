"""The writers' search page and an item's statistics page through HTTP: every value the search
cannot use named at once in Indonesian (422, the form keeping what was typed, nothing run),
hostile values shown as text, page links that keep the filters, the bulk status form working
from a filtered page, and the plots' routes (SVG with nothing a writer typed; 404 in words
without data)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from server import bank
from server.extensions import Database


@pytest.fixture
def writer(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests
    driver.staff_login(*demo.accounts.writer)
    return driver.client


def test_a_refused_search_names_every_problem_and_keeps_what_was_typed(writer):
    r = writer.get("/writer/items?q=<script>alert(1)</script>&sort=id;DROP TABLE item"
                   "&order=sideways&status=gone&shown_min=-1&shown_max=x&page=0"
                   f"&materi_id={2**70}")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    problems = [html.unescape(p) for p in re.findall(r'<li class="error">(.*?)</li>', page)]
    assert problems == [
        f"materi_id harus di antara 0..{2**63 - 1}.",
        f"shown_min harus di antara 0..{2**63 - 1}.",
        "shown_max harus berupa bilangan bulat, bukan 'x'.",
        f"page harus di antara 1..{(2**63 - 1) // 50}.",
        "Isian pencarian status tidak boleh gone: pilih salah satu dari draft, reviewed, "
        "pretest, operational, retired.",
        "Isian pencarian sort tidak boleh id;DROP TABLE item: pilih salah satu dari code, "
        "status, b, exposure, changed.",
        "Isian pencarian order tidak boleh sideways: pilih salah satu dari asc, desc."]
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'name="shown_max" inputmode="numeric" size="6" value="x"' in page
    assert 'name="item_id"' not in page  # nothing was searched
    with Database.factory(writer.application)() as s:
        assert s.scalar(select(bank.Item.id).limit(1)) is not None
    r = writer.get("/writer/items?shown_min=9&shown_max=3")
    assert r.status_code == 422 and "Batas terkecil jumlah tampil (9) melebihi batas terbesar " \
        "(3)." in r.get_data(as_text=True)


def test_page_links_keep_the_filters_and_the_bulk_form_works_on_them(writer):
    with Database.factory(writer.application)() as s:
        materi = s.scalar(select(bank.Materi).where(bank.Materi.code == "ETIKA"))
        drafts = s.scalars(select(bank.Item).where(bank.Item.materi_id == materi.id)
                           .order_by(bank.Item.id).limit(60)).all()
        for item in drafts:
            item.status = bank.ItemStatus.DRAFT
        s.commit()
        expected = sorted((i.code for i in drafts), reverse=True)
    r = writer.get(f"/writer/items?materi_id={materi.id}&sort=code&order=desc&q=%25")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Butir soal (0)" in page  # "%" is literal: no stem has it
    r = writer.get(f"/writer/items?materi_id={materi.id}&status=draft&sort=code&order=desc")
    page = html.unescape(r.get_data(as_text=True))
    codes = re.findall(r'/writer/items/\d+">([^<]+)</a>', page)
    assert codes == expected[:50]
    assert '<a href="/writer/items?page=2&amp;materi_id' in r.get_data(as_text=True)
    page2 = html.unescape(writer.get(f"/writer/items?page=2&materi_id={materi.id}"
                                     "&status=draft&sort=code&order=desc").get_data(as_text=True))
    assert re.findall(r'/writer/items/\d+">([^<]+)</a>', page2) == expected[50:]
    for link in re.findall(r'<a href="(/writer/items\?[^"]+)"', page):
        assert f"materi_id={materi.id}" in link and "status=draft" in link \
            and "order=desc" in link, link
    past = writer.get(f"/writer/items?page=9&materi_id={materi.id}&status=draft")
    assert past.status_code == 200 and \
        "Pencarian ini punya 2 halaman; tidak ada halaman 9." in past.get_data(as_text=True)
    # the chosen items of the filtered page move together
    ids = re.findall(r'name="item_id" value="(\d+)"', page)[:2]
    r = writer.post("/writer/items/status", data={"item_id": ids, "status": "reviewed"})
    assert r.status_code == 302
    with Database.factory(writer.application)() as s:
        assert {s.get(bank.Item, int(i)).status for i in ids} == {bank.ItemStatus.REVIEWED}


def test_plots_are_svg_without_what_a_writer_typed_and_404_without_data(writer, driver):
    with Database.factory(writer.application)() as s:
        item = s.scalar(select(bank.Item).where(bank.Item.status == "operational")
                        .order_by(bank.Item.id))
        item.code = "$\\frac{1}{0}$<script>x</script>"
        s.commit()
        calibrated, code = item.id, item.code
        draft = s.scalar(select(bank.Item.id).where(bank.Item.b.is_(None)))
    for plot in ("icc", "information"):
        r = writer.get(f"/writer/items/{calibrated}/{plot}.svg")
        assert r.status_code == 200 and r.mimetype == "image/svg+xml"
        svg = r.get_data(as_text=True)
        assert svg.lstrip().startswith("<?xml") and "<script" not in svg and "frac" not in svg
        assert "Kemampuan θ" in svg  # axis labels as text, in the page's language
    page = writer.get(f"/writer/items/{calibrated}").get_data(as_text=True)
    assert html.escape(code) in page and "<script>x" not in page
    assert 'id="no-exposure"' in page and 'id="no-distractors"' in page
    r = writer.get(f"/writer/items/{calibrated}/exposure.svg")
    assert r.status_code == 404 and "belum pernah ditampilkan dalam ujian" in r.text
    r = writer.get(f"/writer/items/{draft}/icc.svg")
    assert r.status_code == 404 and "belum punya parameter" in r.text
    page = writer.get(f"/writer/items/{draft}").get_data(as_text=True)
    assert 'id="no-curves"' in page and "icc.svg" not in page
    assert writer.get("/writer/items/987654321/icc.svg").status_code == 404
    anonymous = writer.application.test_client()
    assert anonymous.get(f"/writer/items/{calibrated}/icc.svg").status_code == 401
