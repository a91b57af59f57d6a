"""Bad input gets a 4xx with a message (JSON under /api/v1, a page elsewhere), never a 500."""

from __future__ import annotations

import pytest


@pytest.fixture
def started(demo, driver):
    nip, _, pw = demo.accounts.participants[0]
    driver.login(nip, pw)
    return driver.take("PRA", correct=True, n_answers=1)


def _json_error(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.is_json and set(r.json) == {"error", "code", "params", "message"}, r.json
    assert r.json["message"] and r.json["code"] and isinstance(r.json["params"], dict)


def test_api_bad_input(driver, started):
    c = driver.client
    attempt, item = started["attempt_id"], started["item"]
    answer = f"/api/v1/attempts/{attempt}/answers"
    _json_error(c.post(answer, data="{not json", content_type="application/json"), 400)
    _json_error(c.post(answer, data="[1, 2]", content_type="application/json"), 400)
    _json_error(c.post(answer, data="item_id=1", content_type="application/x-www-form-urlencoded"),
                415)
    _json_error(c.post(answer, json={"item_id": item["item_id"]}), 422)
    r = c.post(answer, json={"item_id": item["item_id"], "choice": "A"})
    _json_error(r, 422)
    assert (r.json["error"], r.json["code"]) == ("invalid_input", "invalid_input")
    assert r.json["params"] == {"name": "choice", "expected": "int", "got": "str"}
    assert r.json["message"] == "Kolom choice harus bertipe int, bukan str."
    _json_error(c.post(answer, json={"item_id": item["item_id"], "choice": True}), 422)
    _json_error(c.post(answer, json={"item_id": [1], "choice": 0}), 422)
    _json_error(c.post(answer, json={"item_id": item["item_id"], "choice": 7}), 422)
    _json_error(c.post(answer, json={"item_id": "abc", "choice": 0}), 422)
    # an item of the bank that is not the current one (nor in this attempt)
    r = c.post(answer, json={"item_id": item["item_id"] + 1, "choice": 0})
    assert r.status_code in (409,) and r.json["error"] == "conflict"
    _json_error(c.get("/api/v1/attempts/999999/item"), 404)
    _json_error(c.get("/api/v1/attempts/not-a-number"), 404)
    _json_error(c.post("/api/v1/exams/999999/attempts", json={}), 404)
    _json_error(c.get("/api/v1/programs/999999"), 404)
    _json_error(c.get("/api/v1/nothing-here"), 404)
    _json_error(c.put(f"/api/v1/attempts/{attempt}", json={}), 405)
    # a locked exam: the ujikom before any materi exam
    r = c.post(f"/api/v1/exams/{driver.exam_id('UJIKOM')}/attempts", json={})
    _json_error(r, 409)
    assert (r.json["error"], r.json["code"], r.json["params"]) == (
        "locked", "pre_assessment_first", {})
    assert r.json["message"] == "Kerjakan tes penilaian awal terlebih dahulu."
    r = c.post(f"/api/v1/exams/{driver.exam_id('UJIKOM')}/attempts?lang=en", json={})
    assert r.json["message"] == "Take the pre-assessment first."
    _json_error(c.post("/api/v1/session", json={"nip": 123, "password": None}), 422)


def test_service_api_bad_input(client, demo):
    auth = {"Authorization": f"Bearer {demo.accounts.token}"}
    _json_error(client.get("/api/v1/certificates?since=%%%", headers=auth), 400)
    _json_error(client.get("/api/v1/certificates?since=WzEsMl0", headers=auth), 400)
    _json_error(client.get("/api/v1/certificates?limit=abc", headers=auth), 400)
    _json_error(client.get("/api/v1/certificates?limit=0", headers=auth), 400)
    _json_error(client.get("/api/v1/certificates/NOPE", headers=auth), 404)
    _json_error(client.get("/api/v1/certificates", headers={"Authorization": "Bearer wrong"}),
                401)


def test_page_bad_input_says_what_is_wrong(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    c = driver.client
    r = c.post("/writer/items/new", data={"code": "X1", "materi_id": "1", "stem": "s",
                                          "option_A": "a", "option_B": "b", "key": "F"})
    assert r.status_code == 422
    assert "Kunci F bukan salah satu dari A–E." in r.get_data(as_text=True)
    r = c.post("/writer/items/new", data={"code": "X1", "materi_id": "abc"})
    assert r.status_code == 422
    assert "Pilih salah satu materi yang tercantum." in r.get_data(as_text=True)
    # once English is chosen, the page and its errors are English
    r = c.post("/writer/items/new?lang=en", data={"code": "X1", "materi_id": "abc"})
    assert r.status_code == 422 and "Choose one of the materi listed." in r.get_data(as_text=True)
    r = c.post("/writer/items/1/status", data={"status": "flying"})
    assert r.status_code == 422
    r = c.post("/admin/programs/1/exams", data={"code": "E", "title": "t", "kind": "materi",
                                                "window_opens_at": "kemarin"})
    assert r.status_code == 422 and "window_opens_at" in r.get_data(as_text=True)
    r = c.post("/admin/programs/1/roster", data={})
    assert r.status_code == 422
    import io
    r = c.post("/admin/programs/1/roster", data={"file": (io.BytesIO(b"nip,name\n123,X\n"),
                                                          "r.csv")})
    assert r.status_code == 422 and "18 digits" in r.get_data(as_text=True)
    r = c.post("/writer/items/import", data={"file": (io.BytesIO(b"\xff\xfe"), "x.json"),
                                             "program_id": "1"})
    assert r.status_code == 422
    r = c.post("/writer/items/import", data={"file": (io.BytesIO(b'[{"code": 1}]'), "x.json"),
                                             "program_id": "1"})
    assert r.status_code == 422 and "record 1" in r.get_data(as_text=True)
    r = c.post("/writer/items/import", data={"file": (io.BytesIO(b"[]"), "x.json"),
                                             "program_id": "999999"})
    assert r.status_code == 404
    assert c.get("/writer/items/999999").status_code == 404
    assert c.get("/admin/programs/999999").status_code == 404
    r = c.post("/admin/programs", data={"code": "PELAYANAN-PUBLIK", "name": "dup"})
    assert r.status_code == 422


def test_participant_page_bad_input(app, demo, driver, started):
    app.config["WTF_CSRF_ENABLED"] = False
    c = driver.client
    r = c.post(f"/exams/{driver.exam_id('UJIKOM')}/start")
    assert r.status_code == 409
    assert "Kerjakan tes penilaian awal terlebih dahulu" in r.get_data(as_text=True)
    assert c.get("/attempts/999999").status_code == 404
    assert c.get("/certificate/NOPE").status_code == 404
    r = c.post("/login", data={"nip": "abc"})
    assert r.status_code == 401 and "NIP atau kata sandi salah" in r.get_data(as_text=True)

