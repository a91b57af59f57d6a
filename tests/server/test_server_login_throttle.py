"""The login throttle (item_bank.login_throttle): per (account, address) pair, a much higher
per-address ceiling, an exponential delay per account instead of a lock, 429 with
Retry-After, the administrator's view and reset, pruning, and parallel tries.

The apps run on the fake clock (``clock``): it stands still unless a test moves it, so a
delay never passes by itself and a test states exact waits."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from server import bank
from server.extensions import Database
from server.sweeper import sweep_once

ATTACKER, OWNER, ROOM = "203.0.113.7", "198.51.100.20", "192.0.2.1"


def _login(client, nip: str, password: str, address: str = ATTACKER):
    return client.post("/api/v1/session", json={"nip": nip, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _stored_tries(app) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(func.count()).select_from(bank.LoginAttempt))


def _add_participants(app, n: int, password: str) -> list[str]:
    """``n`` more participants with ``password`` (one hash for all: hashing is slow)."""
    digest = bank.hash_password(password)
    nips = [str(198000000000000000 + k) for k in range(n)]
    with Database.factory(app)() as s:
        s.add_all([bank.Participant(nip=nip, name=f"Peserta {k}", password_hash=digest)
                   for k, nip in enumerate(nips)])
        s.commit()
    return nips


def test_exam_room_behind_one_address_all_get_in(app, client, demo, clock):
    """40 participants behind one NAT address, 15 of them mistype twice: all 40 get in."""
    people = [(nip, pw) for nip, _, pw in demo.accounts.participants]
    people += [(nip, "ruang-ujian") for nip in _add_participants(app, 40 - len(people),
                                                                 "ruang-ujian")]
    clumsy = people[:15]
    for _ in range(2):  # the worst order: all 30 mistakes before anyone gets in
        for nip, pw in clumsy:
            assert _login(client, nip, pw + "x", ROOM).status_code == 401
    for nip, pw in people:
        r = _login(client, nip, pw, ROOM)
        assert r.status_code == 200, (nip, r.json)
    # the mistakes of those who got in are forgiven: nothing is left to count
    assert _stored_tries(app) == 0


def test_brute_force_meets_429_while_the_owner_gets_in_after_the_delay(client, demo, clock):
    nip, _, password = demo.accounts.participants[0]
    for _ in range(10):
        assert _login(client, nip, "tebakan").status_code == 401
    refused = _login(client, nip, "tebakan")
    assert refused.status_code == 429
    assert refused.json["error"] == refused.json["code"] == "too_many_attempts"
    # the pair is refused for the window (15 min) from its oldest failure
    assert refused.headers["Retry-After"] == "900"
    assert refused.json["params"] == {"seconds": 900, "minutes": 15}
    assert refused.json["message"] == ("Terlalu banyak percobaan masuk yang gagal. "
                                       "Coba lagi dalam 15 menit.")
    # the right password from the attacker's address is refused too: no oracle
    assert _login(client, nip, password).status_code == 429

    # the owner, elsewhere, meets the account's delay (1 s after the 10th failure) ...
    early = _login(client, nip, password, OWNER)
    assert early.status_code == 429 and early.headers["Retry-After"] == "1"
    assert early.json["params"]["seconds"] == 1
    clock.advance(0.5)
    assert _login(client, nip, password, OWNER).status_code == 429
    # ... and gets in once it has passed
    clock.advance(0.5)
    assert _login(client, nip, password, OWNER).status_code == 200
    # the attacker's pair is still refused
    r = _login(client, nip, "tebakan")
    assert r.status_code == 429 and r.headers["Retry-After"] == "899"


def test_the_account_delay_doubles_with_each_failure_from_anywhere(client, demo, clock):
    nip = demo.accounts.participants[1][0]
    for k in range(10):  # ten addresses, one failure each: no pair comes near its limit
        assert _login(client, nip, "salah", f"10.0.0.{k}").status_code == 401
    for wait in (1, 2, 4, 8):
        r = _login(client, nip, "salah", "10.0.1.1")
        assert r.status_code == 429 and r.headers["Retry-After"] == str(wait)
        assert r.json["message"] == ("Terlalu banyak percobaan masuk yang gagal. "
                                     f"Coba lagi dalam {wait} detik.")
        clock.advance(wait)
        assert _login(client, nip, "salah", "10.0.1.1").status_code == 401


def test_english_message_of_the_wait(client, demo, clock):
    nip = demo.accounts.participants[1][0]
    for k in range(10):
        _login(client, nip, "salah", f"10.0.0.{k}")
    r = client.post("/api/v1/session?lang=en", json={"nip": nip, "password": "salah"})
    assert r.status_code == 429
    assert r.json["message"] == "Too many failed logins. Try again in 1 seconds."


def test_spraying_many_accounts_from_one_address_meets_the_address_ceiling(
        app_factory, demo, clock):
    app = app_factory(LOGIN_ADDRESS_LIMIT=30)
    client = app.test_client()
    for k in range(30):  # one try per account: no account and no pair is throttled
        assert _login(client, f"1990000000000000{k:02d}", "123456").status_code == 401
    refused = _login(client, "199000000000000099", "123456")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    # other addresses are not affected
    nip, _, password = demo.accounts.participants[0]
    assert _login(client, nip, password, OWNER).status_code == 200
    clock.advance(900)
    assert _login(client, "199000000000000099", "123456").status_code == 401


def test_staff_login_page_shows_the_wait_with_retry_after(app, client, demo, clock, csrf):
    app.config["WTF_CSRF_ENABLED"] = False
    for _ in range(10):
        r = client.post("/writer/login", data={"username": "admin", "password": "x"},
                        environ_base={"REMOTE_ADDR": ATTACKER})
        assert r.status_code == 401
    r = client.post("/writer/login?lang=en", data={"username": "admin", "password": "x"},
                    environ_base={"REMOTE_ADDR": ATTACKER})
    assert r.status_code == 429 and r.headers["Retry-After"] == "900"
    assert "Try again in 15 minutes." in r.get_data(as_text=True)


def _admin_client(app, demo, csrf):
    client = app.test_client()
    page = client.get("/writer/login").get_data(as_text=True)
    username, password = demo.accounts.admin
    r = client.post("/writer/login", data={"username": username, "password": password,
                                           "csrf_token": csrf(page)},
                    environ_base={"REMOTE_ADDR": OWNER})
    assert r.status_code == 302
    return client


def _listed(admin) -> list[tuple[str, ...]]:
    """The rows of the administrator's throttle page: rule, account, address, failures,
    until."""
    page = admin.get("/admin/logins/")
    assert page.status_code == 200
    return re.findall(r"<tr><td>(\w+)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td>"
                      r"<td>([^<]*)</td>", page.get_data(as_text=True))


def test_admin_sees_who_is_throttled_and_resets_it(app_factory, demo, clock, csrf):
    app = app_factory(LOGIN_ADDRESS_LIMIT=12)
    client = app.test_client()
    nip, _, password = demo.accounts.participants[0]
    for _ in range(10):
        _login(client, nip, "tebakan")
    for k in range(12):
        _login(client, f"1990000000000000{k:02d}", "x", ROOM)
    clock.advance(10)
    admin = _admin_client(app, demo, csrf)

    rows = _listed(admin)
    until = (clock.now - dt.timedelta(seconds=10) + dt.timedelta(seconds=900)).strftime(
        "%Y-%m-%d %H:%M:%S")
    assert ("pair", f"nip:{nip}", ATTACKER, "10", until) in rows
    assert ("address", "", ROOM, "12", until) in rows
    # the account's delay (1 s after its 10th failure) is over: not listed now ...
    assert [r for r in rows if r[0] == "account"] == []
    clock.advance(-10)  # ... but it was right after the failures
    assert ("account", f"nip:{nip}", "", "10",
            (clock.now + dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")) \
        in _listed(admin)
    clock.advance(10)

    confirm = admin.get("/admin/logins/reset", query_string={
        "account": f"nip:{nip}", "address": ATTACKER})
    assert confirm.status_code == 200
    body = confirm.get_data(as_text=True)
    assert f"nip:{nip}" in body and ATTACKER in body
    r = admin.post("/admin/logins/reset", data={"account": f"nip:{nip}", "address": ATTACKER,
                                                "csrf_token": csrf(body)})
    assert r.status_code == 302
    assert [r for r in _listed(admin) if r[1] == f"nip:{nip}"] == []
    assert _login(client, nip, password).status_code == 200  # the pair may try again
    with Database.factory(app)() as s:
        entry = s.scalar(select(bank.AuditLog).where(
            bank.AuditLog.action == "login_throttle_reset"))
    assert entry.actor == demo.accounts.admin[0]
    assert entry.details == {"account": f"nip:{nip}", "address": ATTACKER,
                             "failures_deleted": 10}

    # an address alone
    r = admin.post("/admin/logins/reset", data={"address": ROOM, "csrf_token": csrf(body)})
    assert r.status_code == 302
    assert _login(client, "199000000000000099", "x", ROOM).status_code == 401
    # nothing chosen: 422, nothing deleted
    assert admin.post("/admin/logins/reset", data={"csrf_token": csrf(body)}).status_code == 422


def test_only_administrators_see_and_reset_the_throttle(app, demo, clock, csrf, new_driver):
    client = app.test_client()
    nip, _, password = demo.accounts.participants[0]
    for _ in range(11):
        _login(client, nip, "tebakan")
    writer = new_driver()
    writer.staff_login(*demo.accounts.writer)
    participant = new_driver()
    participant.login(*demo.accounts.participants[1][::2])
    anonymous = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False  # the role is refused, not the form
    for who, status in ((writer.client, 403), (participant.client, 403), (anonymous, 401)):
        assert who.get("/admin/logins/").status_code == status
        assert who.get(f"/admin/logins/reset?account=nip:{nip}").status_code == status
        r = who.post("/admin/logins/reset", data={"account": f"nip:{nip}"})
        assert r.status_code == status
    assert _login(client, nip, "tebakan").status_code == 429  # nothing was reset
    with Database.factory(app)() as s:
        assert s.scalar(select(func.count()).select_from(bank.AuditLog).where(
            bank.AuditLog.action == "login_throttle_reset")) == 0


def test_one_row_per_failed_try_and_pruning_after_the_longest_window(app, client, demo, clock):
    nip, _, password = demo.accounts.participants[0]
    for _ in range(10):
        _login(client, nip, "salah")
    assert _stored_tries(app) == 10  # one row per failed try
    for _ in range(5):
        assert _login(client, nip, "salah").status_code == 429
    assert _stored_tries(app) == 10  # a refused try leaves none
    _login(client, "199999999999999999", "salah", OWNER)
    assert _stored_tries(app) == 11
    clock.advance(86400 - 1)  # the longest window: the account's day
    sweep_once(app)
    assert _stored_tries(app) == 11
    clock.advance(1)
    sweep_once(app)
    assert _stored_tries(app) == 0
    assert _login(client, nip, password).status_code == 200


@pytest.mark.parametrize("nip", ["1" * 500, "x" * 199 + "é"])
def test_overlong_nips_are_refused_before_the_throttle(app, client, clock, nip):
    """A NIP longer than its column names no account: 422 each time (server.inputs), no
    password is checked and nothing is stored."""
    for _ in range(12):
        assert _login(client, nip, "salah").status_code == 422
    with Database.factory(app)() as s:
        assert s.scalar(select(func.count()).select_from(bank.LoginAttempt)) == 0


def test_accounts_and_addresses_the_columns_cannot_hold_are_kept_as_hashes(app, any_demo,
                                                                          clock):
    """A NUL byte, a lone surrogate or an overlong text never reaches the database as text
    (PostgreSQL refuses the first two, the columns the last); each still counts, under one
    stable key."""
    rule = bank.login_throttle.ThrottleRule(pair_limit=2)
    with Database.factory(app)() as s:
        for account, address in [("nip:1990\x00", "a" * 101), ("nip:\ud800", "10.0.0.1\x00"),
                                 ("nip:" + "1" * 300, "\ud800")]:
            decisions = [bank.login_throttle.judge_try(s, rule, account=account,
                                                       address=address, now=clock.now)
                         for _ in range(3)]
            assert [d.retry_after for d in decisions] == [None, None, 900]
        stored = s.execute(select(bank.LoginAttempt.account, bank.LoginAttempt.address)).all()
    assert len(stored) == 6
    assert all(a.startswith("sha256:") and b.startswith("sha256:") for a, b in stored)


# --- parallel tries (SQLite and PostgreSQL): the state is in the database and every try is
# written before it is judged, so the limits hold whatever the interleaving

@pytest.fixture
def proxied_server(any_demo, make_app, clock) -> Iterator[tuple[object, str]]:
    """An app behind one trusted proxy (X-Forwarded-For gives the address) on the fake
    clock, served by a threaded HTTP server."""
    app = make_app(any_demo.url, CLOCK=clock, TRUSTED_PROXIES=1, LOGIN_ADDRESS_LIMIT=8)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def _post_login(base: str, nip: str, password: str, address: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(
        base + "/api/v1/session", data=json.dumps({"nip": nip, "password": password}).encode(),
        method="POST", headers={"Content-Type": "application/json",
                                "X-Forwarded-For": address})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), ""
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Retry-After", "")


def _parallel(calls) -> list[tuple[int, dict, str]]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_parallel_tries_on_one_account_from_many_addresses(proxied_server, any_demo):
    app, base = proxied_server
    nip = any_demo.accounts.participants[2][0]
    replies = _parallel([lambda k=k: _post_login(base, nip, "salah", f"10.0.0.{k}")
                         for k in range(14)])
    statuses = [r[0] for r in replies]
    assert set(statuses) <= {401, 429} and statuses.count(401) <= 10, statuses
    for status, body, retry_after in replies:
        if status == 429:
            assert body["code"] == "too_many_attempts" and int(retry_after) >= 1
    # exactly the failures are stored, one row each; the refused tries left none
    assert _stored_tries(app) == statuses.count(401)


def test_parallel_spraying_from_one_address(proxied_server, any_demo):
    app, base = proxied_server
    replies = _parallel([lambda k=k: _post_login(base, f"1990000000000000{k:02d}", "x",
                                                 "10.9.9.9") for k in range(14)])
    statuses = [r[0] for r in replies]
    assert set(statuses) <= {401, 429} and statuses.count(401) <= 8, statuses
    assert all(int(r[2]) >= 1 for r in replies if r[0] == 429)
    assert _stored_tries(app) == statuses.count(401)
    # the room's own people, behind another address, are not affected
    nip, _, password = any_demo.accounts.participants[0]
    assert _post_login(base, nip, password, "10.1.1.1")[0] == 200
