"""The writer's import from other tools in the browser (preview, then confirm; nothing stored
while any question is refused) and exports; item pictures served only inside the exam that
shows them."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from server import bank
from tests.item_bank.test_exchange_load import GIFT, PNG
from tests.server.conftest import csrf_from


@pytest.fixture
def writer(demo, new_driver):
    staff = new_driver()
    staff.staff_login(*demo.accounts.writer)
    return staff


def _materi(driver, code: str = "PP"):
    with driver.session() as s:
        return s.scalar(select(bank.Materi).where(bank.Materi.code == code))


def _items(driver) -> int:
    with driver.session() as s:
        return s.scalar(select(func.count()).select_from(bank.Item))


def _preview(writer, text: bytes, *, fmt="gift", name="soal.gift", materi_id=None):
    page = writer.client.get("/writer/items").get_data(as_text=True)
    return writer.client.post("/writer/items/exchange", data={
        "file": (io.BytesIO(text), name), "format": fmt, "csrf_token": csrf_from(page),
        "materi_id": str(materi_id if materi_id is not None else _materi(writer).id)},
        content_type="multipart/form-data")


def test_preview_then_confirm_imports_the_file_once(writer):
    before = _items(writer)
    r = _preview(writer, GIFT.encode())
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "3 soal dapat diimpor" in html and "STANDAR-PELAYANAN (baru)" in html
    assert "Maklumat pelayanan berisi {janji} penyelenggara?" in html
    assert _items(writer) == before  # a preview stores nothing
    action = next(part.split('"', 1)[0] for part in html.split('action="')[1:]
                  if "/writer/items/exchange/" in part.split('"', 1)[0])
    r = writer.client.post(action, data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302
    assert _items(writer) == before + 3
    with writer.session() as s:
        sources = s.scalars(select(bank.Item.source).where(bank.Item.source != "")).all()
    assert sorted(sources)[0] == "GIFT: soal.gift, question 1 'SP1'"
    again = writer.client.post(action, data={"csrf_token": csrf_from(html)})
    assert again.status_code == 404  # the upload was used up: never imported twice
    assert _items(writer) == before + 3


def _confirm_action(html: str) -> str:
    return next(part.split('"', 1)[0] for part in html.split('action="')[1:]
                if "/writer/items/exchange/" in part.split('"', 1)[0])


def test_one_upload_waits_per_writer(writer):
    first = _confirm_action(_preview(writer, GIFT.encode()).get_data(as_text=True))
    second = _confirm_action(_preview(writer, GIFT.encode()).get_data(as_text=True))
    page = writer.client.get("/writer/items").get_data(as_text=True)
    assert writer.client.post(first, data={"csrf_token": csrf_from(page)}).status_code == 404
    with writer.session() as s:
        assert s.scalar(select(func.count()).select_from(bank.ImportDraft)) == 1
    assert writer.client.post(second, data={"csrf_token": csrf_from(page)}).status_code == 302


def test_a_refused_question_is_named_and_nothing_can_be_confirmed(writer):
    before = _items(writer)
    bad = GIFT + "\n::ESAI:: Jelaskan pelayanan prima. {}\n<script>alert(1)</script>{=a ~b}\n"
    r = _preview(writer, bad.encode())
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Soal 4: ESAI: an essay question (empty answer block)" in html
    assert "Tidak ada yang akan diimpor" in html and "/writer/items/exchange/" not in html
    assert "<script>alert(1)" not in html  # a writer's pasted markup is shown as text
    assert _items(writer) == before


@pytest.mark.parametrize(("payload", "fmt", "name"), [
    (b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b"<quiz>&x;</quiz>", "moodle", "xxe.xml"),
    (b"PK\x03\x04 not really a zip", "qti", "broken.zip"),
    (b"\xff\xfe\x00 not utf-8", "aiken", "soal.txt"),
])
def test_hostile_or_broken_files_get_a_clear_422(writer, payload, fmt, name):
    before = _items(writer)
    r = _preview(writer, payload, fmt=fmt, name=name)
    assert r.status_code == 422
    assert "Tidak tersimpan:" in r.get_data(as_text=True)
    assert _items(writer) == before


def test_unknown_materi_is_404_and_missing_format_422(writer):
    assert _preview(writer, GIFT.encode(), materi_id=999999).status_code == 404
    assert _preview(writer, GIFT.encode(), fmt="docx").status_code == 422


def test_exports_download_the_program(writer):
    program = _materi(writer).program_id
    qti = writer.client.get(f"/writer/items/export-qti3.zip?program_id={program}")
    assert qti.status_code == 200 and qti.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(qti.data)) as package:
        assert "imsmanifest.xml" in package.namelist()
        items = [n for n in package.namelist() if n.endswith(".xml") and n != "imsmanifest.xml"]
    with writer.session() as s:
        assert len(items) == s.scalar(select(func.count()).select_from(bank.Item).where(
            bank.Item.program_id == program))
    moodle = writer.client.get(f"/writer/items/export-moodle.xml?program_id={program}")
    assert moodle.status_code == 200 and b"<quiz" in moodle.data
    assert writer.client.get("/writer/items/export-moodle.xml?program_id=999999") \
        .status_code == 404


def test_pictures_only_in_the_running_attempt_that_shows_them(app, demo, new_driver):
    owner, other = new_driver(), new_driver()
    owner.login(*demo.accounts.participants[0][::2])
    other.login(*demo.accounts.participants[1][::2])
    state = owner.take("PRA", correct=True, n_answers=0)
    attempt, item_id = state["attempt_id"], state["item"]["item_id"]
    with owner.session() as s:
        item = s.get(bank.Item, item_id)
        item.image_count = 1
        s.add(bank.ItemImage(item_id=item_id, position=1, name="peta.png",
                             media_type="image/png", data=PNG))
        s.commit()
    path = f"/attempts/{attempt}/items/{item_id}/images/1"
    r = owner.client.get(path)
    assert r.status_code == 200 and r.data == PNG and r.mimetype == "image/png"
    assert "no-store" in r.headers["Cache-Control"]
    assert owner.client.get(f"/attempts/{attempt}/items/{item_id}/images/2").status_code == 404
    assert other.client.get(path).status_code == 404
    assert app.test_client().get(path).status_code in (302, 401)
    r = owner.post(f"/api/v1/attempts/{attempt}/finish", json={"confirm": True})
    assert r.status_code == 200
    assert owner.client.get(path).status_code == 404  # the exam is over
