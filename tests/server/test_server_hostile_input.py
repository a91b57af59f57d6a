"""Input no database can store, or a parser cannot take, is a 4xx with a message: JSON
``{error, code, params, message}`` under /api/v1, the Indonesian error page elsewhere.  The
inputs that reached the database driver run on SQLite and PostgreSQL (``any_demo``)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from sqlalchemy import func, select

from item_bank.admin import EXAM_BOUNDS
from server import bank
from server.extensions import Database

LOGIN = "/api/v1/session"


def _json_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.is_json and set(r.json) == {"error", "code", "params", "message"}, r.json
    assert r.json["code"] == code and r.json["message"], r.json
    return r.json


def _page_error(r, status: int, text: str) -> None:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == "text/html"
    assert text in r.get_data(as_text=True), r.get_data(as_text=True)[:2000]


def _raw_json(client, url: str, text: str):
    return client.post(url, data=text, content_type="application/json")


def _count(app, model) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def staff(app, demo, driver):
    """The test's client logged in as administrator, CSRF checks off (tested elsewhere)."""
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    return driver.client


@pytest.fixture
def program_id(app) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(bank.Program.id).order_by(bank.Program.id))


def test_deeply_nested_json_is_400(client, staff):
    deep = "[" * 100_000 + "]" * 100_000
    body = _json_error(_raw_json(client, LOGIN, deep), 400, "json_too_deep")
    assert body["params"] == {"limit": 32}
    assert body["message"] == "JSON ini bersarang lebih dalam dari 32 tingkat."
    # objects count as levels too, and brackets inside strings do not
    nested = '{"a":' * 40 + "1" + "}" * 40
    _json_error(_raw_json(client, LOGIN, nested), 400, "json_too_deep")
    r = _raw_json(client, LOGIN, json.dumps({"nip": "199001012015031001", "password": "[" * 5000}))
    assert r.status_code == 401
    # unbalanced brackets are not JSON, however deep
    _json_error(_raw_json(client, LOGIN, "[" * 100_000), 400, "malformed_json")
    # the writer's item file is read by the item bank, which refuses any deep file
    r = staff.post("/writer/items/import", data={"file": (io.BytesIO(deep.encode()), "x.json"),
                                                 "program_id": "1"})
    assert r.status_code == 422 and "JSON ini bersarang terlalu dalam" in r.text


def test_lone_surrogate_in_nip_is_400(any_demo, client):
    before = _count(client.application, bank.LoginAttempt)
    r = _raw_json(client, LOGIN, '{"nip": "\\ud800", "password": "x"}')
    body = _json_error(r, 400, "invalid_text")
    assert body["message"] == "nip bukan teks yang sah (berisi surrogate tunggal)."
    r = _raw_json(client, LOGIN, '{"nip": "199001012015031001", "password": "\\udfff"}')
    _json_error(r, 400, "invalid_text")
    assert _count(client.application, bank.LoginAttempt) == before


def test_nip_longer_than_its_column_is_422(any_demo, app, client):
    app.config["WTF_CSRF_ENABLED"] = False
    body = _json_error(client.post(LOGIN, json={"nip": "1" * 197, "password": "x"}), 422,
                       "invalid_input")
    assert body["params"] == {"name": "nip", "limit": 18}
    assert body["message"] == "nip lebih panjang dari 18 karakter."
    r = client.post("/login", data={"nip": "1" * 500, "password": "x"})
    _page_error(r, 422, "nip lebih panjang dari 18 karakter.")
    r = client.post("/writer/login", data={"username": "u" * 500, "password": "x"})
    _page_error(r, 422, "username lebih panjang dari 80 karakter.")


def test_nul_in_nip_is_400(any_demo, app, client):
    app.config["WTF_CSRF_ENABLED"] = False
    r = client.post(LOGIN, json={"nip": "1990010120150310\x0001", "password": "x"})
    assert _json_error(r, 400, "invalid_text")["message"] == \
        "nip tidak boleh mengandung karakter NUL."
    r = client.post("/login", data={"nip": "\x00", "password": "x"})
    _page_error(r, 400, "nip tidak boleh mengandung karakter NUL.")


def test_nul_in_verify_path_is_400(any_demo, client):
    _page_error(client.get("/verify/%00"), 400, "number tidak boleh mengandung karakter NUL.")
    _page_error(client.get("/verify?number=%00"), 400,
                "number tidak boleh mengandung karakter NUL.")
    auth = {"Authorization": f"Bearer {any_demo.accounts.token}"}
    _json_error(client.get("/api/v1/certificates/A%00B", headers=auth), 400, "invalid_text")


def test_nul_in_writer_search_is_400(any_demo, staff):
    _page_error(staff.get("/writer/items?q=%00"), 400, "q tidak boleh mengandung karakter NUL.")


def test_a_form_part_without_a_name_is_400(client):
    """Werkzeug keeps a multipart part without a name under None; CSRF (on in this app) and
    the text check would fail on it with a 500."""
    body = b"--B\r\nContent-Disposition: form-data\r\n\r\nhello\r\n--B--\r\n"
    for path in ("/login", "/writer/login"):
        r = client.post(path, data=body, content_type="multipart/form-data; boundary=B")
        _page_error(r, 400, "Setiap bagian formulir harus bernama.")
    r = client.post("/api/v1/session", data=body, content_type="multipart/form-data; boundary=B")
    _json_error(r, 400, "bad_request")


def test_strings_longer_than_their_column_are_422(any_demo, app, staff, program_id):
    programs = _count(app, bank.Program)
    r = staff.post("/admin/programs", data={"code": "P" * 41, "name": "x"})
    assert r.status_code == 422 and "code is longer than 40 characters" in r.text
    assert _count(app, bank.Program) == programs
    r = staff.post(f"/admin/programs/{program_id}/materi", data={"code": "M", "name": "n" * 201})
    assert r.status_code == 422 and "name is longer than 200 characters" in r.text
    r = staff.post("/admin/tokens", data={"name": "t" * 81, "scope": "admin:read"})
    assert r.status_code == 422 and "Nama token lebih dari 80 karakter (81)" in r.text
    # a roster row and an imported item are held to the same columns
    people = _count(app, bank.Participant)
    roster = f"nip,name,unit\n199001012015031099,{'N' * 201},X\n".encode()
    r = staff.post(f"/admin/programs/{program_id}/roster",
                   data={"file": (io.BytesIO(roster), "r.csv")})
    assert r.status_code == 422 and "name is longer than 200 characters" in r.text
    assert _count(app, bank.Participant) == people
    record = json.loads(staff.get(
        f"/writer/items/export.json?program_id={program_id}").text)[0]
    items = _count(app, bank.Item)
    record["id"], record["status"] = "C" * 65, "draft"
    r = staff.post("/writer/items/import", data={
        "file": (io.BytesIO(json.dumps([record]).encode()), "i.json"),
        "program_id": str(program_id)})
    assert r.status_code == 422 and "<td>id</td><td>sel lebih panjang dari 64 karakter." in r.text
    assert _count(app, bank.Item) == items
    record["id"], record["stem"] = "C-NUL", "a\x00b"
    r = staff.post("/writer/items/import", data={
        "file": (io.BytesIO(json.dumps([record]).encode()), "i.json"),
        "program_id": str(program_id)})
    assert r.status_code == 422 and "<td>stem</td><td>berisi karakter NUL" in r.text
    assert _count(app, bank.Item) == items


def test_huge_integers_in_staff_forms_are_422(any_demo, app, staff, program_id):
    with Database.factory(app)() as s:
        materi_id = s.scalar(select(bank.Materi.id).order_by(bank.Materi.id))
    exams = _count(app, bank.Exam)
    exam = {"code": "E-BIG", "title": "t", "kind": "materi", "materi_id": str(materi_id)}
    for name in ("max_attempts", "duration_s", "min_items", "max_items"):
        r = staff.post(f"/admin/programs/{program_id}/exams", data={**exam, name: str(2**40)})
        assert r.status_code == 422, (name, r.status_code)
        low, high = EXAM_BOUNDS[name]
        assert f"{name} harus di antara {low}..{high} (isiannya {2**40})" in r.text
    # ids are held to the id column's type (a larger one cannot be compared with it)
    low, high = bank.int_range(bank.Materi.__table__.c.id.type)
    for value in (2**40, 2**70):
        r = staff.post(f"/admin/programs/{program_id}/exams",
                       data={**exam, "materi_id": str(max(value, high + 1))})
        _page_error(r, 422, f"materi_id harus di antara {low}..{high}.")
    assert _count(app, bank.Exam) == exams
    item = {"code": "X-BIG", "materi_id": str(materi_id), "stem": "s", "option_A": "a",
            "option_B": "b", "key": "A"}
    for name, value in (("key", 2**40), ("tag_id", 2**70), ("materi_id", 2**70),
                        ("key", "9" * 5000), ("remove_image", 2**70), ("a", "1e999")):
        r = staff.post("/writer/items/new", data={**item, name: str(value)})
        assert r.status_code == 422, (name, value, r.status_code)
    for value in (2**63, 2**64):  # beyond the 64-bit id columns
        r = staff.post("/writer/calibration", data={"program_id": str(value), "model": "2pl"})
        assert r.status_code == 422, (value, r.status_code)
        r = staff.post("/writer/calibration",
                       data={"program_id": str(program_id), "materi_id": str(value)})
        assert r.status_code == 422, (value, r.status_code)
    for value in (str(2**63), str(2**70), "\u00b2", "-1"):
        r = staff.post("/writer/calibration/1/accept", data={"item_id": value})
        assert r.status_code == 422, (value, r.status_code)


def test_writer_items_page_out_of_range_is_422(any_demo, staff):
    for page in (2**62, 2**63, 2**70, 0, -5, "x"):
        r = staff.get(f"/writer/items?page={page}")
        assert r.status_code == 422 and "page" in r.text, (page, r.status_code, r.text[:300])


def test_writer_items_last_page_still_works(staff):
    assert staff.get(f"/writer/items?page={(2**63 - 1) // 50}").status_code == 200
    assert staff.get("/writer/items?page=2").status_code == 200


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


CRAFTED_CURSORS = {
    "not a date": _cursor(["x", 1]),
    "naive date": _cursor(["2025-01-01T00:00:00", 1]),
    "id over 64 bits": _cursor(["2025-01-01T00:00:00+00:00", 2**70]),
    "negative id": _cursor(["2025-01-01T00:00:00+00:00", -1]),
    "id a bool": _cursor(["2025-01-01T00:00:00+00:00", True]),
    "id a float": _cursor(["2025-01-01T00:00:00+00:00", 1.5]),
    "out of range in UTC": _cursor(["0001-01-01T00:00:00+14:00", 1]),
    "lone surrogate": _cursor(["\ud800", 1]),
    "NUL": _cursor(["2025-01-01T00:00:00\x00+00:00", 1]),
    "an object": _cursor({"a": 1, "b": 2}),
    "three values": _cursor(["2025-01-01T00:00:00+00:00", 1, 2]),
    "nested": _cursor([[[[[["x"]]]]], 1]),
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe[1]").decode(),
    "deep": base64.urlsafe_b64encode(b"[" * 5000).decode(),
    "too long": _cursor(["2025-01-01T00:00:00+00:00", 1]) + "A" * 300,
}


def test_crafted_certificate_cursors_are_400(any_demo, client):
    auth = {"Authorization": f"Bearer {any_demo.accounts.token}"}
    for what, cursor in CRAFTED_CURSORS.items():
        r = client.get("/api/v1/certificates", query_string={"since": cursor}, headers=auth)
        assert r.status_code == 400, (what, r.status_code, r.text[:300])
        _json_error(r, 400, "bad_cursor")
    # the largest id the column holds is still a position (nothing after it)
    top = bank.int_range(bank.Certificate.__table__.c.id.type)[1]
    r = client.get("/api/v1/certificates",
                   query_string={"since": _cursor(["2025-01-01T00:00:00+07:00", top])},
                   headers=auth)
    assert r.status_code == 200 and r.json["more"] is False
    r = client.get("/api/v1/certificates",
                   query_string={"since": _cursor(["2025-01-01T00:00:00+07:00", top + 1])},
                   headers=auth)
    _json_error(r, 400, "bad_cursor")
