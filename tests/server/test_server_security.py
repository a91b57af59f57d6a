"""Logins, sessions, cookies, headers, CSRF and the key position shuffle."""

from __future__ import annotations

import re
import time

import numpy as np
from scipy import stats
from sqlalchemy import select

from server import bank
from server.extensions import Database


def _login(client, nip, password):
    return client.post("/api/v1/session", json={"nip": nip, "password": password})


def test_eleventh_failed_login_of_a_pair_gets_429_even_with_the_right_password(
        client, demo, clock):
    nip, _, password = demo.accounts.participants[0]
    for _ in range(10):
        assert _login(client, nip, "salah-sekali").status_code == 401
    r = _login(client, nip, "salah-sekali")
    assert r.status_code == 429 and r.json["error"] == "too_many_attempts"
    assert r.headers["Retry-After"] == "900"
    assert _login(client, nip, password).status_code == 429  # refused for the window
    # from another address the owner only waits the account's delay, then gets in
    elsewhere = {"REMOTE_ADDR": "10.1.2.3"}
    r = client.post("/api/v1/session", json={"nip": nip, "password": password},
                    environ_base=elsewhere)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.advance(1)
    assert client.post("/api/v1/session", json={"nip": nip, "password": password},
                       environ_base=elsewhere).status_code == 200


def test_failed_logins_from_one_address_meet_its_much_higher_ceiling(app_factory, demo, clock):
    app = app_factory(LOGIN_ADDRESS_LIMIT=40)
    client = app.test_client()
    for k in range(40):  # ten failures on different NIPs no longer lock the address
        assert _login(client, f"1990000000000000{k:02d}", "x").status_code == 401
    assert _login(client, "199000000000000099", "x").status_code == 429
    # another address is not affected
    other = client.post("/api/v1/session", json={"nip": demo.accounts.participants[0][0],
                                                 "password": demo.accounts.participants[0][2]},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_failures_older_than_the_window_do_not_count(client, demo, app, clock):
    nip, _, password = demo.accounts.participants[0]
    for _ in range(10):
        _login(client, nip, "salah")
    clock.advance(899)
    assert _login(client, nip, password).status_code == 429
    clock.advance(1)  # the window (15 min) has passed; the account's delay (1 s) too
    assert _login(client, nip, password).status_code == 200


def test_unknown_nip_and_wrong_password_look_the_same(client, demo):
    nip = demo.accounts.participants[0][0]
    wrong = _login(client, nip, "salah-sandi")
    unknown = _login(client, "199999999999999999", "salah-sandi")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    page_wrong = client.post("/login", data={"nip": nip, "password": "x"})
    assert page_wrong.status_code == 400  # no CSRF token: refused before anything else


def test_session_changes_at_login_and_cookie_flags(app, demo):
    client = app.test_client()
    page = client.get("/login?lang=en")
    before = client.get_cookie("session").value
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    nip, _, password = demo.accounts.participants[0]
    r = client.post("/login", data={"nip": nip, "password": password, "csrf_token": token})
    assert r.status_code == 302
    after = client.get_cookie("session")
    assert after.value != before
    with client.session_transaction() as sess:
        sid = sess["sid"]
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP in this test
    # logging in again gives another session id
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True))[1]
    client.post("/login", data={"nip": nip, "password": password, "csrf_token": token})
    with client.session_transaction() as sess:
        assert sess["sid"] != sid


def test_a_verified_cookie_is_remembered_but_never_trusted_beyond_its_signature(
        app, demo, app_factory, monkeypatch):
    """The session interface remembers cookies it verified (a participant sends the same one
    with every answer); that must not change what a cookie is worth."""
    client = app.test_client()
    nip, _, password = demo.accounts.participants[0]
    assert _login(client, nip, password).status_code == 200
    cookie = client.get_cookie("session").value
    programs = client.get("/api/v1/programs")
    assert programs.status_code == 200 and client.get("/api/v1/programs").json == programs.json
    interface = app.session_interface
    assert any(key[-1] == cookie for key in interface._verified)

    # A forged cookie (one signature character changed) is anonymous, remembered or not.  Not
    # the last character: part of its bits are base64 padding, which decoding ignores.
    forged = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    stranger = app.test_client()
    stranger.set_cookie("session", forged)
    assert stranger.get("/api/v1/programs").status_code == 401

    # Another secret key does not accept the cookie remembered under this one.
    other = app_factory(SECRET_KEY="o" * 64)
    other_client = other.test_client()
    other_client.set_cookie("session", cookie)
    assert other_client.get("/api/v1/programs").status_code == 401

    # Changing the session in one request does not leak into the remembered copy.
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        from flask import request
        first = interface.open_session(app, request)
        first["participant_id"] = -1
        assert interface.open_session(app, request)["participant_id"] != -1

    # A remembered cookie expires with the session lifetime like any other.
    lifetime = app.permanent_session_lifetime.total_seconds()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + lifetime + 5)
    assert client.get("/api/v1/programs").status_code == 401


def test_cookie_is_secure_over_https(app, demo):
    client = app.test_client()
    nip, _, password = demo.accounts.participants[0]
    r = client.post("/api/v1/session", json={"nip": nip, "password": password},
                    base_url="https://localhost")
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in r.headers


def test_exam_page_headers(app, demo, driver):
    nip, _, password = demo.accounts.participants[0]
    driver.login(nip, password)
    state = driver.take("PRA", correct=True, n_answers=0)
    attempt = state["attempt_id"]
    for path in (f"/attempts/{attempt}", f"/api/v1/attempts/{attempt}/item"):
        r = driver.client.get(path)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_forms_need_the_csrf_token(app, demo, driver):
    driver.staff_login(*demo.accounts.admin)
    r = driver.client.post("/admin/programs", data={"code": "X", "name": "Y"})
    assert r.status_code == 400 and "Formulir sudah kedaluwarsa" in r.get_data(as_text=True)
    r = driver.client.post("/admin/programs?lang=en", data={"code": "X", "name": "Y"})
    assert r.status_code == 400 and "form expired" in r.get_data(as_text=True)


def test_participant_pages_default_to_indonesian_and_switch_to_english(client):
    assert "Masuk peserta" in client.get("/login").get_data(as_text=True)
    assert "Participant login" in client.get("/login?lang=en").get_data(as_text=True)
    # the choice sticks for the session
    assert "Participant login" in client.get("/login").get_data(as_text=True)


def test_key_position_is_uniform_across_participants(app, demo, monkeypatch):
    """Items stored with the key always first: only the per-participant shuffle moves it.

    200 participants each get a first item; chi-square over the 4 displayed key positions
    must not reject uniformity (p > 0.01), and the test is sensitive: without the shuffle
    every key would sit at position 0 (p ~ 0).  The attempts' seeds come from the test's
    own stream, so the verdict is the same on every run (on the day's seeds the test itself
    would fail one run in a hundred).
    """
    from item_bank import policy

    rng = np.random.default_rng(7)
    seeds = np.random.default_rng(8)
    monkeypatch.setattr(policy.secrets, "randbits", lambda bits: int(seeds.integers(2**bits)))
    with Database.factory(app)() as s:
        program = bank.Program(code="SHUF", name="Uji acak", settings_json={})
        s.add(program)
        s.flush()
        materi = bank.Materi(program_id=program.id, code="M", name="M")
        s.add(materi)
        s.flush()
        for k in range(60):
            s.add(bank.Item(program_id=program.id, materi_id=materi.id, code=f"S{k}",
                            stem=f"Soal {k}", options=[f"benar {k}", f"salah a{k}",
                                                       f"salah b{k}", f"salah c{k}"],
                            key=0, model=bank.IrtModel.TWO_PL, a=float(rng.uniform(0.8, 1.5)),
                            b=float(rng.normal()), status=bank.ItemStatus.OPERATIONAL))
        exam = bank.Exam(program_id=program.id, code="PRE", title="t",
                         kind=bank.ExamKind.PRE_ASSESSMENT, min_items=1, max_items=5)
        s.add(exam)
        s.flush()
        bank.enrol_roster(s, program_id=program.id, rows=[
            (f"{198000000000000000 + i}", f"Peserta {i}", "", "") for i in range(200)])
        exam_id = exam.id
        ids = s.scalars(select(bank.Enrolment.participant_id).where(
            bank.Enrolment.program_id == program.id)).all()
    assert len(ids) == 200
    counts = np.zeros(4, dtype=int)
    for participant_id in ids:
        client = app.test_client()
        with client.session_transaction() as sess:  # logged in as the login would do it
            sess.update(participant_id=participant_id, sv=0, iat=int(time.time()),
                        seen=int(time.time()))
        attempt = client.post(f"/api/v1/exams/{exam_id}/attempts", json={}).json["attempt_id"]
        item = client.get(f"/api/v1/attempts/{attempt}/item").json["item"]
        shown = [o for o in item["options"] if o.startswith("benar")]
        counts[item["options"].index(shown[0])] += 1
    p = stats.chisquare(counts).pvalue
    assert p > 0.01, (counts, p)
