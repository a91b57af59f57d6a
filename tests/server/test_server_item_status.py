"""The writer's status control: an item page offers only the moves its lifecycle allows
(models.ITEM_TRANSITIONS), retiring needs a ticked confirmation and a reason kept in the audit
log, the items list changes the status of many items all or none, and every refusal is a 4xx
page in Indonesian that changes nothing.  Also the item page's statistics and the error
page's link for staff."""

from __future__ import annotations

import html
import itertools
import re

import pytest
from sqlalchemy import select

from server import bank

_codes = itertools.count()


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _item(driver, status: str = "draft", **values) -> int:
    with driver.session() as s:
        materi = s.scalar(select(bank.Materi).order_by(bank.Materi.id))
        item = bank.Item(program_id=materi.program_id, materi_id=materi.id,
                         code=f"ST-{next(_codes)}", stem="Apa asas pelayanan publik?",
                         options=["Kepastian hukum", "Diskriminasi", "Kerahasiaan"], key=0,
                         status=bank.ItemStatus(status), **values)
        s.add(item)
        s.commit()
        return item.id


def _status(driver, item_id: int) -> str:
    with driver.session() as s:
        return s.get(bank.Item, item_id).status.value


def _entries(driver) -> list[bank.AuditLog]:
    with driver.session() as s:
        return list(s.scalars(select(bank.AuditLog).where(
            bank.AuditLog.action == "item_status_changed").order_by(bank.AuditLog.id)))


def _offered(page: str) -> list[str]:
    form = re.search(r'<form[^>]*id="status-form".*?</form>', page, re.S)
    return re.findall(r'<option value="(\w+)"', form.group(0)) if form else []


def test_the_item_page_offers_only_the_allowed_moves(writer):
    cases = {"draft": ["reviewed", "retired"], "reviewed": ["draft", "pretest", "retired"],
             "pretest": ["retired"], "operational": ["retired"], "retired": []}
    for status, offered in cases.items():
        extra = {"a": 1.0, "b": 0.0} if status == "operational" else {}
        page = _text(writer.client.get(f"/writer/items/{_item(writer, status, **extra)}"))
        assert _offered(page) == offered, (status, _offered(page))
        # the current status is shown, nothing but the empty choice is preselected
        assert re.search(r'<option value="" selected>', page) or not offered
        assert re.search(r'<option value="\w+" selected', page) is None
    page = _text(writer.client.get(f"/writer/items/{_item(writer, 'retired')}"))
    assert "Butir soal yang dipensiunkan tetap dipensiunkan" in page
    # a calibrated pretest item may become operational
    item = _item(writer, "pretest", a=1.2, b=0.3)
    assert _offered(_text(writer.client.get(f"/writer/items/{item}"))) == ["operational",
                                                                          "retired"]


def test_the_item_page_links_calibration_and_shows_no_none(writer):
    page = _text(writer.client.get(f"/writer/items/{_item(writer)}"))
    assert "None" not in page
    assert "command line" not in page and "smartcat calibrate" not in page
    assert 'href="/writer/calibration"' in page
    assert re.search(r'id="parameters">belum dikalibrasi<', page)
    assert re.search(r'id="standard-errors">—<', page)
    assert "Status: draf" in page
    item = _item(writer, "pretest", a=1.25, b=-0.5)
    page = _text(writer.client.get(f"/writer/items/{item}?lang=en"))
    assert re.search(r'id="parameters">1.25, -0.5, —<', page) and "None" not in page


def test_a_move_the_lifecycle_allows_is_made_and_audited(writer, demo):
    item = _item(writer)
    r = writer.post_form(f"/writer/items/{item}/status", {"status": "reviewed"})
    assert r.status_code == 302, _text(r)
    assert _status(writer, item) == "reviewed"
    page = _text(writer.client.get(r.headers["Location"]))
    assert "sekarang berstatus telah ditelaah" in page
    [entry] = _entries(writer)
    with writer.session() as s:
        code = s.get(bank.Item, item).code
    assert (entry.actor, entry.subject) == (demo.accounts.writer[0], f"item:{code}")
    assert entry.details == {"item_id": item, "from": "draft", "to": "reviewed", "reason": ""}


@pytest.mark.parametrize("status, data, message", [
    ("draft", {"status": "operational"}, "draf → operasional tidak diizinkan"),
    ("retired", {"status": "reviewed"}, "dipensiunkan → telah ditelaah tidak diizinkan"),
    ("pretest", {"status": "operational"}, "kalibrasikan terlebih dahulu"),
    ("draft", {"status": "bogus"}, "Pilih status baru butir soal"),
    ("draft", {}, "Pilih status baru butir soal"),
    ("draft", {"status": "retired", "reason": "Bocor"}, "centang kotak konfirmasi"),
    ("draft", {"status": "retired", "confirm": "yes"}, "Tuliskan alasan pensiun"),
    ("draft", {"status": "retired", "confirm": "yes", "reason": "   "},
     "Tuliskan alasan pensiun"),
    ("draft", {"status": "retired", "confirm": "yes", "reason": "x" * 501},
     "lebih dari 500 karakter"),
])
def test_a_refused_move_is_a_422_in_indonesian_and_changes_nothing(writer, status, data,
                                                                   message):
    item = _item(writer, status)
    r = writer.post_form(f"/writer/items/{item}/status", data)
    assert r.status_code == 422 and message in _text(r), _text(r)
    assert _status(writer, item) == status and _entries(writer) == []


def test_retiring_needs_the_confirmation_and_keeps_the_reason(writer):
    item = _item(writer, "operational", a=1.0, b=0.0)
    r = writer.post_form(f"/writer/items/{item}/status", {
        "status": "retired", "confirm": "yes", "reason": "  Soal bocor di grup pesan.  "})
    assert r.status_code == 302, _text(r)
    assert _status(writer, item) == "retired"
    [entry] = _entries(writer)
    assert entry.details["reason"] == "Soal bocor di grup pesan."
    assert (entry.details["from"], entry.details["to"]) == ("operational", "retired")


def test_a_missing_item_is_404(writer):
    r = writer.post_form("/writer/items/987654321/status", {"status": "reviewed"})
    assert r.status_code == 404 and "Butir soal 987654321 tidak ditemukan." in _text(r)


def test_bulk_changes_are_all_or_nothing_and_name_every_refused_item(writer):
    drafts = [_item(writer) for _ in range(2)]
    retired, pretest = _item(writer, "retired"), _item(writer, "pretest")
    with writer.session() as s:
        codes = {i: s.get(bank.Item, i).code for i in [*drafts, retired, pretest]}
    r = writer.post_form("/writer/items/status", {
        "item_id": [str(i) for i in [*drafts, retired, pretest]], "status": "reviewed"})
    page = _text(r)
    assert r.status_code == 422, page
    assert "Tidak ada yang diubah: 2 butir soal yang dipilih tidak dapat menjadi telah " \
           "ditelaah: butir soal" in page
    assert f"butir soal {codes[retired]}: dipensiunkan → telah ditelaah tidak diizinkan" in page
    assert f"butir soal {codes[pretest]}: uji coba → telah ditelaah tidak diizinkan" in page
    assert codes[drafts[0]] not in page
    assert [_status(writer, i) for i in drafts] == ["draft", "draft"] and _entries(writer) == []

    r = writer.post_form("/writer/items/status", {"item_id": [str(i) for i in drafts],
                                                   "status": "reviewed"})
    assert r.status_code == 302, _text(r)
    assert [_status(writer, i) for i in drafts] == ["reviewed", "reviewed"]
    assert [e.details["item_id"] for e in _entries(writer)] == drafts
    assert "2 butir soal sekarang berstatus telah ditelaah" in _text(
        writer.client.get(r.headers["Location"]))


@pytest.mark.parametrize("data, status, message", [
    ({"status": "reviewed"}, 422, "Pilih sedikitnya satu butir soal."),
    ({"item_id": "x", "status": "reviewed"}, 422, "item_id harus berupa bilangan bulat"),
    ({"item_id": "-1", "status": "reviewed"}, 422, "item_id harus di antara"),
    ({"item_id": "987654321", "status": "reviewed"}, 404, "tidak ditemukan"),
    ({"item_id": "ITEM", "status": "nonsense"}, 422, "Pilih status baru butir soal"),
    ({"item_id": "ITEM", "status": "retired", "reason": "Bocor"}, 422,
     "centang kotak konfirmasi"),
    ({"item_id": "ITEM", "status": "retired", "confirm": "yes"}, 422,
     "Tuliskan alasan pensiun"),
])
def test_bulk_bad_input_is_a_4xx_in_indonesian_and_changes_nothing(writer, data, status,
                                                                   message):
    item = _item(writer)
    if data.get("item_id") == "ITEM":
        data = {**data, "item_id": str(item)}
    r = writer.post_form("/writer/items/status", data)
    assert r.status_code == status and message in _text(r), _text(r)
    assert _status(writer, item) == "draft" and _entries(writer) == []


def test_bulk_retiring_keeps_the_reason_for_every_item(writer):
    items = [_item(writer), _item(writer, "operational", a=1.0, b=0.0)]
    r = writer.post_form("/writer/items/status", {
        "item_id": [str(i) for i in items], "status": "retired", "confirm": "yes",
        "reason": "Drift pada kalibrasi Maret."})
    assert r.status_code == 302, _text(r)
    assert [_status(writer, i) for i in items] == ["retired", "retired"]
    assert [(e.details["from"], e.details["reason"]) for e in _entries(writer)] == [
        ("draft", "Drift pada kalibrasi Maret."), ("operational", "Drift pada kalibrasi Maret.")]


def test_status_changes_need_the_pages_csrf_token(writer):
    item = _item(writer)
    for path, data in ((f"/writer/items/{item}/status", {"status": "reviewed"}),
                       ("/writer/items/status", {"item_id": str(item), "status": "reviewed"})):
        r = writer.client.post(path, data=data)
        assert r.status_code == 400, path
    assert _status(writer, item) == "draft"


@pytest.mark.parametrize("role, start", [("writer", "/writer/items"), ("admin", "/admin/")])
def test_the_error_page_leads_staff_to_their_start_page(demo, driver, role, start):
    driver.staff_login(*getattr(demo.accounts, role))
    r = driver.client.get("/writer/items/987654321")
    page = _text(r)
    assert r.status_code == 404
    link = re.search(r'<a href="([^"]+)" id="back">([^<]+)</a>', page)
    assert link.groups() == (start, "Kembali ke halaman awal saya")
    assert driver.client.get(link.group(1)).status_code == 200
    # a participant's page refused to staff: the same link, not one to /programs
    r = driver.client.get("/programs")
    assert r.status_code == 403
    assert re.search(r'<a href="([^"]+)" id="back">', _text(r)).group(1) == start


def test_the_error_page_leads_a_participant_to_the_programs(demo, driver):
    driver.login(*demo.accounts.participants[0][::2])
    r = driver.client.get("/attempts/987654321")
    assert r.status_code == 404
    link = re.search(r'<a href="([^"]+)" id="back">([^<]+)</a>', _text(r))
    assert link.groups() == ("/", "Kembali ke program saya")
