"""Sessions end: logout, a password change and an administrator's "end sessions" revoke
every older cookie of the account (in every app instance on the database), sessions have an
idle and an absolute lifetime on the app's clock, and the page after a login is always a
path of this site."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from item_bank import admin as ib_admin
from server import bank
from server.extensions import Database
from server.security import safe_next

IDLE, ABSOLUTE, REFRESH = 60 * 60, 12 * 60 * 60, 5 * 60


def _api_login(client, nip: str, password: str) -> str:
    """Log in through the API; the session cookie."""
    r = client.post("/api/v1/session", json={"nip": nip, "password": password})
    assert r.status_code == 200, r.json
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A client that holds nothing but ``cookie`` (as a thief who copied it would)."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def _anonymous_everywhere(app, cookie: str) -> None:
    """The cookie is anonymous: 401 JSON on the API, the login page on an HTML route."""
    thief = _replay(app, cookie)
    r = thief.get("/api/v1/programs")
    assert r.status_code == 401 and r.json["error"] == "unauthorized", r.json
    thief = _replay(app, cookie)
    page = thief.get("/programs")
    assert page.status_code == 401 and 'id="login-form"' in page.get_data(as_text=True)


def _page_login(client, csrf, nip: str, password: str, next_: str | None = None):
    token = csrf(client.get("/login").get_data(as_text=True))
    data = {"nip": nip, "password": password, "csrf_token": token}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data)


def _staff_login(client, csrf, username: str, password: str, next_: str | None = None):
    token = csrf(client.get("/writer/login").get_data(as_text=True))
    data = {"username": username, "password": password, "csrf_token": token}
    if next_ is not None:
        data["next"] = next_
    return client.post("/writer/login", data=data)


def test_api_logout_ends_this_and_every_other_session_of_the_participant(app, any_demo):
    nip, _, password = any_demo.accounts.participants[0]
    phone, laptop = app.test_client(), app.test_client()
    cookie = _api_login(phone, nip, password)
    other_cookie = _api_login(laptop, nip, password)
    assert _replay(app, cookie).get("/api/v1/programs").status_code == 200
    assert phone.delete("/api/v1/session", json={}).status_code == 200
    _anonymous_everywhere(app, cookie)
    _anonymous_everywhere(app, other_cookie)
    # Another participant is not affected, and the first one logs in again as usual.
    other_nip, _, other_password = any_demo.accounts.participants[1]
    third = app.test_client()
    _api_login(third, other_nip, other_password)
    _api_login(phone, nip, password)
    assert phone.get("/api/v1/programs").status_code == 200
    assert third.get("/api/v1/programs").status_code == 200


def test_page_logout_ends_the_cookie(app, demo, csrf):
    nip, _, password = demo.accounts.participants[0]
    client = app.test_client()
    assert _page_login(client, csrf, nip, password).status_code == 302
    cookie = client.get_cookie("session").value
    page = client.get("/programs")
    assert page.status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 302
    _anonymous_everywhere(app, cookie)


def test_staff_logout_ends_the_staff_cookie(app, demo, csrf):
    client = app.test_client()
    assert _staff_login(client, csrf, *demo.accounts.admin).status_code == 302
    cookie = client.get_cookie("session").value
    page = client.get("/admin/")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": csrf(page.get_data(as_text=True))})
    r = _replay(app, cookie).get("/admin/")
    assert r.status_code == 401 and 'id="login-form"' in r.get_data(as_text=True)


def test_roster_password_change_ends_the_old_sessions(app, demo, new_driver):
    app.config["WTF_CSRF_ENABLED"] = False
    nip, name, password = demo.accounts.participants[0]
    cookie = _api_login(app.test_client(), nip, password)
    admin = new_driver()
    admin.staff_login(*demo.accounts.admin)
    roster = f"nip,name,unit,password\n{nip},{name},BKD,sandi-baru-123\n"
    r = admin.client.post(f"/admin/programs/{demo.accounts.program_id}/roster",
                          data={"file": (io.BytesIO(roster.encode()), "roster.csv")})
    assert r.status_code == 302, r.get_data(as_text=True)
    _anonymous_everywhere(app, cookie)
    fresh = app.test_client()
    _api_login(fresh, nip, "sandi-baru-123")
    assert fresh.get("/api/v1/programs").status_code == 200
    # A roster row without a password changes no password and ends no session.
    r = admin.client.post(f"/admin/programs/{demo.accounts.program_id}/roster", data={
        "file": (io.BytesIO(f"nip,name,unit,password\n{nip},{name},BKD,\n".encode()),
                 "roster.csv")})
    assert r.status_code == 302
    assert fresh.get("/api/v1/programs").status_code == 200


def test_an_administrators_password_reset_ends_the_old_sessions(app, any_demo):
    nip, _, password = any_demo.accounts.participants[0]
    cookie = _api_login(app.test_client(), nip, password)
    with Database.factory(app)() as s:
        participant_id = s.scalar(select(bank.Participant.id).where(bank.Participant.nip == nip))
        ib_admin.set_participant_password(s, participant_id=participant_id,
                                          password="sandi-lain-456")
    _anonymous_everywhere(app, cookie)


def test_the_administrator_ends_a_participants_sessions(app, any_demo, csrf):
    nip, name, password = any_demo.accounts.participants[0]
    participant_client = app.test_client()
    cookie = _api_login(participant_client, nip, password)
    with Database.factory(app)() as s:
        participant_id = s.scalar(select(bank.Participant.id).where(bank.Participant.nip == nip))
    admin = app.test_client()
    _staff_login(admin, csrf, *any_demo.accounts.admin)
    program = any_demo.accounts.program_id
    url = f"/admin/programs/{program}/participants/{participant_id}/end-sessions"
    overview = admin.get(f"/admin/programs/{program}").get_data(as_text=True)
    assert url in overview and "Akhiri sesi" in overview
    confirm = admin.get(url)
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Akhiri semua sesi" in page and nip in page
    # Only asking changes nothing.
    assert participant_client.get("/api/v1/programs").status_code == 200
    r = admin.post(url, data={"csrf_token": csrf(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/programs/{program}")
    done = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert f"Semua sesi {name} (NIP {nip}) telah diakhiri." in done
    _anonymous_everywhere(app, cookie)
    assert participant_client.get("/api/v1/programs").status_code == 401
    with Database.factory(app)() as s:
        entry = s.scalar(select(bank.AuditLog).where(
            bank.AuditLog.action == "participant_sessions_ended"))
    assert (entry.actor, entry.subject) == (any_demo.accounts.admin[0], f"participant:{nip}")
    # The administrator's own session goes on; the participant logs in again.
    assert admin.get(f"/admin/programs/{program}").status_code == 200
    _api_login(participant_client, nip, password)
    assert participant_client.get("/api/v1/programs").status_code == 200


def test_ending_the_sessions_needs_an_administrator_a_token_and_a_participant(
        app, demo, csrf, new_driver):
    program = demo.accounts.program_id
    nip, _, password = demo.accounts.participants[0]
    participant = app.test_client()
    _api_login(participant, nip, password)
    with Database.factory(app)() as s:
        participant_id = s.scalar(select(bank.Participant.id).where(bank.Participant.nip == nip))
    url = f"/admin/programs/{program}/participants/{participant_id}/end-sessions"
    writer = app.test_client()
    _staff_login(writer, csrf, *demo.accounts.writer)
    assert writer.get(url).status_code == 403
    admin = app.test_client()
    _staff_login(admin, csrf, *demo.accounts.admin)
    assert admin.post(url, data={}).status_code == 400  # no CSRF token
    assert participant.get("/api/v1/programs").status_code == 200
    token = csrf(admin.get(url).get_data(as_text=True))
    missing = f"/admin/programs/{program}/participants/{2**62}/end-sessions"
    assert admin.get(missing).status_code == 404
    assert admin.post(missing, data={"csrf_token": token}).status_code == 404


def test_idle_sessions_end_and_the_idle_stamp_is_renewed_only_now_and_then(app, demo, clock):
    nip, _, password = demo.accounts.participants[0]
    client = app.test_client()
    _api_login(client, nip, password)
    clock.advance(REFRESH - 1)
    r = client.get("/api/v1/programs")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers  # no new cookie yet
    clock.advance(IDLE - REFRESH)  # IDLE - 1 after the login: the stamp is renewed now
    r = client.get("/api/v1/programs")
    assert r.status_code == 200 and "Set-Cookie" in r.headers
    clock.advance(IDLE)  # exactly the idle time since the renewed stamp: still alive
    assert client.get("/api/v1/programs").status_code == 200
    cookie = client.get_cookie("session").value
    clock.advance(IDLE + 1)
    _anonymous_everywhere(app, cookie)
    assert client.get("/api/v1/programs").status_code == 401


def test_sessions_end_after_the_absolute_lifetime_however_busy(app, demo, clock):
    nip, _, password = demo.accounts.participants[0]
    client = app.test_client()
    _api_login(client, nip, password)
    for _ in range(ABSOLUTE // (IDLE - 60)):
        clock.advance(IDLE - 60)
        assert client.get("/api/v1/programs").status_code == 200
    clock.advance(ABSOLUTE - (ABSOLUTE // (IDLE - 60)) * (IDLE - 60))  # = ABSOLUTE
    assert client.get("/api/v1/programs").status_code == 200
    clock.advance(1)
    r = client.get("/api/v1/programs")
    assert r.status_code == 401 and r.json["error"] == "unauthorized"


def test_lifetimes_are_settings(demo, make_app, clock):
    app = make_app(demo.url, CLOCK=clock, SESSION_IDLE_SECONDS=120, SESSION_REFRESH_SECONDS=10,
                   SESSION_ABSOLUTE_SECONDS=300)
    nip, _, password = demo.accounts.participants[0]
    client = app.test_client()
    _api_login(client, nip, password)
    clock.advance(121)
    assert client.get("/api/v1/programs").status_code == 401
    with pytest.raises(ValueError, match="session lifetimes"):
        make_app(demo.url, SESSION_IDLE_SECONDS=600, SESSION_ABSOLUTE_SECONDS=300)


@pytest.mark.parametrize("how", ["logout", "end_sessions"])
def test_a_cookie_of_another_app_on_the_same_database_is_revoked_too(any_demo, make_app, csrf,
                                                                     how):
    """Two workers (two apps, one secret key, one database): a session ended in one of them
    is anonymous in the other, although the other verified and remembered its cookie."""
    one, two = make_app(any_demo.url), make_app(any_demo.url)
    nip, _, password = any_demo.accounts.participants[0]
    client = one.test_client()
    cookie = _api_login(client, nip, password)
    assert _replay(two, cookie).get("/api/v1/programs").status_code == 200
    if how == "logout":
        assert client.delete("/api/v1/session", json={}).status_code == 200
    else:
        admin = one.test_client()
        _staff_login(admin, csrf, *any_demo.accounts.admin)
        with Database.factory(one)() as s:
            participant_id = s.scalar(
                select(bank.Participant.id).where(bank.Participant.nip == nip))
        url = (f"/admin/programs/{any_demo.accounts.program_id}/participants/"
               f"{participant_id}/end-sessions")
        r = admin.post(url, data={"csrf_token": csrf(admin.get(url).get_data(as_text=True))})
        assert r.status_code == 302
    _anonymous_everywhere(two, cookie)


def test_a_session_without_a_version_is_anonymous(app, demo):
    """A cookie signed with the app's key but made before sessions had versions (or forged
    by a test) is not a login."""
    with Database.factory(app)() as s:
        participant_id = s.scalar(select(bank.Participant.id).order_by(bank.Participant.id))
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["participant_id"] = participant_id
    assert client.get("/api/v1/programs").status_code == 401


HOSTILE_NEXT = [
    "/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/\r\n/evil.example",
    "\t//evil.example", " /programs", "/programs ", "//evil.example", "///evil.example",
    "////evil.example", "\\\\evil.example", "\\/evil.example", "/\\evil.example",
    "/\\/evil.example", "/%5Cevil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "https://evil.example", "http:evil.example", "HTTPS://evil.example/programs",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "evil.example",
    "programs", "", "/\x00/evil.example", "/\x7f/evil.example", "/\u2028/evil.example",
    "/\u00a0/evil.example", "/%0a/evil.example", "%2F%2Fevil.example",
]
GOOD_NEXT = ["/programs", "/attempts/5", "/attempts/5/result?lang=en", "/programs?",
             "/certificate/ABC-123", "/programs#top", "/verify?number=SC%2F2025"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_values_go_home(target):
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", GOOD_NEXT)
def test_paths_of_this_site_are_followed(target):
    assert safe_next(target, "/home") == target


def test_non_strings_go_home():
    assert safe_next(None, "/home") == "/home"
    assert safe_next(["/programs"], "/home") == "/home"


def test_the_login_form_follows_only_paths_of_this_site(app, demo, csrf):
    nip, _, password = demo.accounts.participants[0]
    for target in ["/\t/evil.example", "//evil.example", "/\\evil.example",
                   "https://evil.example", "javascript:alert(1)"]:
        r = _page_login(app.test_client(), csrf, nip, password, target)
        assert r.status_code == 302 and r.headers["Location"] == "/programs", target
    # The request: the query string decoded by the server holds a tab.
    client = app.test_client()
    page = client.get("/login?next=/%09/evil.example").get_data(as_text=True)
    r = client.post("/login", data={"nip": nip, "password": password,
                                    "csrf_token": csrf(page), "next": "/\t/evil.example"})
    assert r.headers["Location"] == "/programs"
    r = _page_login(app.test_client(), csrf, nip, password, "/attempts/1?lang=en")
    assert r.headers["Location"] == "/attempts/1?lang=en"


def test_the_staff_login_follows_only_paths_of_this_site(app, demo, csrf):
    r = _staff_login(app.test_client(), csrf, *demo.accounts.admin, "//evil.example")
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    r = _staff_login(app.test_client(), csrf, *demo.accounts.writer, "/\t/evil.example")
    assert r.headers["Location"] == "/writer/items"
    r = _staff_login(app.test_client(), csrf, *demo.accounts.admin, "/admin/live")
    assert r.headers["Location"] == "/admin/live"


def test_an_ended_session_changes_nothing_on_the_exam_routes(app, any_demo):
    """The exam routes leave the session's version to the policy's participant lock: a cookie
    copied mid-exam is refused there too after the owner logs out (401, emptied), and none of
    start, answer, finish or the item and result reads stores anything."""
    from tests.server.conftest import Driver

    nip, _, password = any_demo.accounts.participants[0]
    owner = Driver(app, app.test_client())
    owner.login(nip, password)
    cookie = owner.client.get_cookie("session").value
    taken = owner.take("PRA", correct=True, n_answers=2)
    attempt_id, item = taken["attempt_id"], taken["item"]
    thief = _replay(app, cookie)
    assert thief.get(f"/api/v1/attempts/{attempt_id}/item").status_code == 200

    def stored() -> tuple:
        with owner.session() as s:
            attempts = s.scalars(select(bank.Attempt)).all()
            responses = s.scalars(select(bank.Response)).all()
            return ([(a.id, a.state, a.score) for a in attempts],
                    [(r.id, r.item_id, r.choice) for r in responses])

    assert owner.client.delete("/api/v1/session", json={}).status_code == 200
    before = stored()
    exam_id = owner.exam_id("UJIAN-PP")
    for method, url, body in [
        ("post", f"/api/v1/attempts/{attempt_id}/answers",
         {"item_id": item["item_id"], "choice": 0}),
        ("post", f"/api/v1/attempts/{attempt_id}/finish", {"confirm": True}),
        ("post", f"/api/v1/exams/{exam_id}/attempts", {}),
        ("get", f"/api/v1/attempts/{attempt_id}/item", None),
        ("get", f"/api/v1/attempts/{attempt_id}/result", None),
        ("get", f"/api/v1/attempts/{attempt_id}", None),
    ]:
        thief = _replay(app, cookie)
        r = thief.open(url, method=method.upper(), json=body)
        assert r.status_code == 401 and r.json["error"] == "unauthorized", (url, r.json)
        assert thief.get_cookie("session") is None  # the emptied session is sent back
    assert stored() == before
    # The owner logs in again and goes on with the same attempt.
    owner.login(nip, password)
    r = owner.post(f"/api/v1/attempts/{attempt_id}/answers",
                   json={"item_id": item["item_id"], "choice": 0})
    assert r.status_code == 200 and r.json["stored"] is True
