"""The writer's item-file import on the pages (item_bank.item_file): a preview of what is
created and changed, bound to the uploaded bytes and to the bank as previewed; every bad line
named on a 422 page with nothing stored; the item lifecycle (a retired item is not brought back,
a new item enters as operational only by an administrator's choice); audit entries naming the
importer; hostile files a clear 4xx page."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select

from server import bank
from server.extensions import Database
from tests.server.test_server_staff_pages import english_texts, untranslated

__all__ = ["english_texts"]  # the fixture of the catalog check

PROGRAM = "PELAYANAN-PUBLIK"
TOKEN = re.compile(r'action="/writer/items/import/([^"]+)"')
DIGEST = re.compile(r'name="plan" value="([0-9a-f]{64})"')


@pytest.fixture
def world(app, demo):
    app.config["WTF_CSRF_ENABLED"] = False
    with bank_session(app) as s:
        program = s.scalar(select(bank.Program).where(bank.Program.code == PROGRAM))
        item = s.scalar(select(bank.Item).where(bank.Item.program_id == program.id,
                                                bank.Item.status == "operational")
                        .order_by(bank.Item.id))
        return {"program_id": program.id, "item_id": item.id, "code": item.code,
                "materi": s.get(bank.Materi, item.materi_id).code,
                "writer": demo.accounts.writer, "admin": demo.accounts.admin}


def bank_session(app):
    return Database.factory(app)()


def _upload(client, data: bytes, name: str, program_id: int, **form):
    return client.post("/writer/items/import", data={
        "file": (io.BytesIO(data), name), "program_id": str(program_id), **form})


def _confirm(client, page: str):
    return client.post(f"/writer/items/import/{TOKEN.search(page).group(1)}",
                       data={"plan": DIGEST.search(page).group(1)})


def _new(world, code: str, **fields) -> dict:
    return {"id": code, "materi": world["materi"], "stem": "Apa asas pelayanan publik?",
            "option_a": "Kepastian hukum", "option_b": "Diskriminasi", "key": "A",
            "model": "2pl", "a": 1.0, "b": 0.2} | fields


def _json(*records) -> bytes:
    return json.dumps(list(records)).encode()


def _count(app, model=None) -> int:
    with bank_session(app) as s:
        return s.scalar(select(func.count()).select_from(model or bank.Item))


def test_preview_then_confirm_creates_and_changes_what_was_shown(app, world, new_driver,
                                                                english_texts):
    writer = new_driver()
    writer.staff_login(*world["writer"])
    export = writer.client.get(f"/writer/items/export.csv?program_id={world['program_id']}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.text)))
    row = next(r for r in rows if r["id"] == world["code"])
    row["stem"] = "Diperbaiki: apa asas pelayanan publik?"
    rows.append(dict.fromkeys(rows[0], "") | {
        "id": "BARU-1", "materi": world["materi"], "stem": "Soal baru?", "option_a": "Ya",
        "option_b": "Tidak", "key": "B"})
    out = io.StringIO()
    writer_csv = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer_csv.writeheader()
    writer_csv.writerows(rows)
    body = out.getvalue().encode()
    items = _count(app)
    r = _upload(writer.client, body, "bank.csv", world["program_id"])
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page
    assert "1 soal baru, 1 diubah" in page and "BARU-1" in page
    assert "Diperbaiki: apa asas pelayanan publik?" in page  # what changes, before and after
    assert not untranslated(page, english_texts)
    assert _count(app) == items  # a preview stores nothing
    # another file cannot be committed under this preview: the token holds the bytes
    r = _confirm(writer.client, page)
    assert r.status_code == 302
    with bank_session(app) as s:
        assert s.get(bank.Item, world["item_id"]).stem == "Diperbaiki: apa asas pelayanan publik?"
        created = s.scalar(select(bank.Item).where(bank.Item.code == "BARU-1"))
        assert (created.status, created.key, created.author) == (
            bank.ItemStatus.DRAFT, 1, world["writer"][0])
        actions = s.scalars(select(bank.AuditLog.action).where(
            bank.AuditLog.actor == world["writer"][0],
            bank.AuditLog.action.like("item%"))).all()
    assert sorted(actions) == ["item_import_changed", "item_imported", "items_imported"]
    assert _confirm(writer.client, page).status_code == 404  # a second confirmation


def test_a_preview_of_a_bank_that_changed_since_is_refused(app, world, new_driver):
    writer = new_driver()
    writer.staff_login(*world["writer"])
    page = _upload(writer.client, _json(_new(world, "BARU-1")), "x.json",
                   world["program_id"]).get_data(as_text=True)
    other = new_driver()  # another account: one upload waits per account
    other.staff_login(*world["admin"])
    assert _confirm(other.client, _upload(other.client, _json(_new(world, "BARU-1", stem="x")),
                                          "y.json", world["program_id"]).get_data(
        as_text=True)).status_code == 302
    r = _confirm(writer.client, page)
    assert r.status_code == 409 and "telah berubah sejak pratinjau" in r.text
    with bank_session(app) as s:
        assert s.scalar(select(bank.Item.stem).where(bank.Item.code == "BARU-1")) == "x"


def test_bad_lines_are_named_and_nothing_is_stored(app, world, new_driver, english_texts):
    writer = new_driver()
    writer.staff_login(*world["writer"])
    body = ("id;materi;stem;option_a;option_b;key\n"
            f"OK-1;{world['materi']};Soal?;a;b;A\n"
            f"OK-2;TIDAK-ADA;Soal?;a;b;A\n"
            f"OK-3;{world['materi']};Soal?;a;b;F\n").encode()
    items = _count(app)
    r = _upload(writer.client, body, "bank.csv", world["program_id"])
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "baris 3" in page and "tidak ada materi TIDAK-ADA" in page
    assert "baris 4" in page and "harus berupa huruf sebuah opsi (A-E), bukan F" in page
    assert 'id="confirm-import"' not in page and _count(app) == items
    assert not untranslated(page, english_texts)


def test_imports_follow_the_lifecycle(app, world, new_driver):
    writer, admin = new_driver(), new_driver()
    writer.staff_login(*world["writer"])
    admin.staff_login(*world["admin"])
    writer.client.post(f"/writer/items/{world['item_id']}/status", data={
        "status": "retired", "confirm": "yes", "reason": "Soal bocor."})
    exported = {r["id"]: r for r in writer.client.get(
        f"/writer/items/export.json?program_id={world['program_id']}").json}
    record = exported[world["code"]] | {"status": "operational"}
    r = _upload(writer.client, _json(_new(world, "BARU-1", status="draft"), record), "x.json",
                world["program_id"])
    assert r.status_code == 422 and "<td>rekaman 2</td><td>status</td>" in r.text
    assert "dipensiunkan → operasional tidak diizinkan" in r.text
    # a new operational item: not for a writer, not without the administrator's choice
    operational = _json(_new(world, "BARU-2", status="operational"))
    assert _upload(writer.client, operational, "x.json", world["program_id"],
                   allow_operational="on").status_code == 403
    assert _upload(admin.client, operational, "x.json", world["program_id"]).status_code == 422
    page = _upload(admin.client, operational, "x.json", world["program_id"],
                   allow_operational="on").get_data(as_text=True)
    # the administrator's preview confirmed by a writer who got hold of it: refused
    assert _confirm(writer.client, page).status_code == 403
    page = _upload(admin.client, operational, "x.json", world["program_id"],
                   allow_operational="on").get_data(as_text=True)
    assert _confirm(admin.client, page).status_code == 302
    with bank_session(app) as s:
        assert s.get(bank.Item, world["item_id"]).status == bank.ItemStatus.RETIRED
        assert s.scalar(select(bank.Item.status).where(bank.Item.code == "BARU-2")) \
            == bank.ItemStatus.OPERATIONAL
        assert s.scalar(select(bank.Item).where(bank.Item.code == "BARU-1")) is None


@pytest.mark.parametrize(("data", "name", "text"), [
    (b"\xff\xfeid", "x.csv", "bukan teks UTF-8"),
    (b"[" * 10_000 + b"]" * 10_000, "x.json", "terlalu dalam"),
    (b"id,materi\n", "x.xlsx", "bukan berkas .csv atau .json"),
    (b'[{"id": "A"}]', "x.json", "rekaman 1"),
])
def test_hostile_files_are_a_clear_422_page(app, world, new_driver, data, name, text):
    writer = new_driver()
    writer.staff_login(*world["writer"])
    drafts = _count(app, bank.ImportDraft)
    r = _upload(writer.client, data, name, world["program_id"])
    assert r.status_code == 422 and text in r.text, r.text[-800:]
    assert _count(app, bank.ImportDraft) == drafts


def test_csv_export_neutralises_formulas(app, world, new_driver):
    writer = new_driver()
    writer.staff_login(*world["writer"])
    body = _json(_new(world, "=cmd|' /C calc'!A0", stem="=HYPERLINK(\"http://x\")",
                      option_a="+62", option_b="@SUM(A1)"))
    assert _confirm(writer.client, _upload(writer.client, body, "x.json", world["program_id"])
                    .get_data(as_text=True)).status_code == 302
    export = writer.client.get(f"/writer/items/export.csv?program_id={world['program_id']}")
    row = next(r for r in csv.DictReader(io.StringIO(export.text)) if "cmd|" in r["id"])
    assert (row["id"], row["stem"], row["option_a"], row["option_b"]) == (
        "'=cmd|' /C calc'!A0", "'=HYPERLINK(\"http://x\")", "'+62", "'@SUM(A1)")
    # and the export re-imports to the same items: nothing to change
    r = _upload(writer.client, export.data, "bank.csv", world["program_id"])
    assert r.status_code == 200 and 'id="import-nothing"' in r.text
