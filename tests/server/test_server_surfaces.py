"""Staff and service surfaces: /metrics behind its token, revocable service tokens, "mark
done" by the logged-in administrator, /verify without the NIP, no versions in ``Server``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server import bank
from server.config import load_config
from server.extensions import Database

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "m" * 16 + "-scraper-" + "k" * 16


# --- /metrics --------------------------------------------------------------------------------
def test_metrics_is_404_without_the_token_setting(client, demo):
    assert client.get("/metrics").status_code == 404
    r = client.get("/metrics", headers={"Authorization": f"Bearer {demo.accounts.token}"})
    assert r.status_code == 404
    assert "smartcat_http_requests_total" not in r.get_data(as_text=True)


def test_metrics_needs_the_bearer_token(app_factory, demo):
    client = app_factory(METRICS_TOKEN=METRICS_TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer " + METRICS_TOKEN[:-1]},
                    {"Authorization": "Bearer " + METRICS_TOKEN + "x"},
                    {"Authorization": "Bearer ü" + METRICS_TOKEN},
                    {"Authorization": METRICS_TOKEN},
                    {"Authorization": f"Bearer {demo.accounts.token}"}):  # a service token
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "smartcat_http_requests_total" not in r.get_data(as_text=True)
    r = client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    assert "smartcat_http_requests_total" in r.get_data(as_text=True)


def test_metrics_scrape_does_not_need_the_database(make_app):
    # Nothing listens there: a scrape during a database outage still shows the 503s.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/smartcat",
                   METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    assert client.get("/healthz").status_code == 503
    r = client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert r.status_code == 200
    assert 'endpoint="public.health",method="GET",status="503"' in r.get_data(as_text=True)


def test_metrics_token_setting_is_checked():
    assert load_config({"SECRET_KEY": "s" * 64})["METRICS_TOKEN"] is None
    env = {"SMARTCAT_METRICS_TOKEN": METRICS_TOKEN}
    assert load_config({"SECRET_KEY": "s" * 64}, environ=env)["METRICS_TOKEN"] == METRICS_TOKEN
    assert load_config({"SECRET_KEY": "s" * 64},
                       environ={"SMARTCAT_METRICS_TOKEN": ""})["METRICS_TOKEN"] is None
    with pytest.raises(ValueError, match="METRICS_TOKEN"):
        load_config({"SECRET_KEY": "s" * 64, "METRICS_TOKEN": "too-short"})


# --- service tokens --------------------------------------------------------------------------
def _token_row(app, name: str):
    with Database.factory(app)() as s:
        return s.scalar(select(bank.ServiceToken).where(bank.ServiceToken.name == name))


def _audit(app, action: str) -> list:
    with Database.factory(app)() as s:
        return s.scalars(select(bank.AuditLog).where(bank.AuditLog.action == action)).all()


def test_revoked_service_token_is_refused_at_once(app, app_factory, driver, demo, csrf):
    from server.demo import TOKEN_NAME

    token = {"Authorization": f"Bearer {demo.accounts.token}"}
    other_worker = app_factory().test_client()  # another process over the same database
    service = app.test_client()
    assert service.get("/api/v1/certificates", headers=token).status_code == 200
    assert other_worker.get("/api/v1/certificates", headers=token).status_code == 200
    row = _token_row(app, TOKEN_NAME)
    driver.staff_login("admin", "admin-demo-123")

    page = driver.client.get("/admin/tokens").get_data(as_text=True)
    assert f'action="/admin/tokens/{row.id}/revoke"' in page
    # The first step only asks (in Indonesian): nothing is revoked yet.
    r = driver.client.get(f"/admin/tokens/{row.id}/revoke")
    confirm = r.get_data(as_text=True)
    assert r.status_code == 200 and TOKEN_NAME in confirm
    assert "Cabut token" in confirm and "langsung ditolak" in confirm
    assert service.get("/api/v1/certificates", headers=token).status_code == 200
    # A POST without the form's CSRF token is refused and changes nothing.
    r = driver.client.post(f"/admin/tokens/{row.id}/revoke", data={})
    assert r.status_code == 400
    assert _token_row(app, TOKEN_NAME).revoked_at is None

    r = driver.client.post(f"/admin/tokens/{row.id}/revoke",
                           data={"csrf_token": csrf(confirm)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/tokens")
    assert _token_row(app, TOKEN_NAME).revoked_at is not None
    for client in (service, other_worker):
        r = client.get("/api/v1/certificates", headers=token)
        assert r.status_code == 401 and r.json["error"] == "unauthorized"
        assert client.get(f"/api/v1/certificates/{'X' * 8}", headers=token).status_code == 401
    entries = _audit(app, "service_token_revoked")
    assert [(e.actor, e.subject) for e in entries] == [("admin", f"service_token:{TOKEN_NAME}")]

    page = driver.client.get("/admin/tokens").get_data(as_text=True)
    assert "dicabut" in page  # the flash message
    assert f'action="/admin/tokens/{row.id}/revoke"' not in page
    # Revoking again (a second click) changes nothing and writes no second entry.
    r = driver.client.post(f"/admin/tokens/{row.id}/revoke",
                           data={"csrf_token": csrf(confirm)})
    assert r.status_code == 302 and len(_audit(app, "service_token_revoked")) == 1
    assert driver.client.get("/admin/tokens/999999/revoke").status_code == 404
    assert driver.client.post("/admin/tokens/999999/revoke",
                              data={"csrf_token": csrf(confirm)}).status_code == 404


def test_new_token_still_works_after_another_is_revoked(app, driver, demo, csrf):
    from server.demo import TOKEN_NAME

    driver.staff_login("admin", "admin-demo-123")
    page = driver.client.get("/admin/tokens").get_data(as_text=True)
    r = driver.client.post("/admin/tokens", data={"name": "svc-2", "scope": "certificates:read",
                                                  "csrf_token": csrf(page)})
    new = re.search(r'<code id="new-token">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    row = _token_row(app, TOKEN_NAME)
    driver.client.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": csrf(page)})
    client = app.test_client()
    assert client.get("/api/v1/certificates",
                      headers={"Authorization": f"Bearer {demo.accounts.token}"}
                      ).status_code == 401
    assert client.get("/api/v1/certificates",
                      headers={"Authorization": f"Bearer {new}"}).status_code == 200


# --- mark done -------------------------------------------------------------------------------
def test_mark_done_records_the_logged_in_admin_not_the_form(app, driver, demo, csrf):
    nip = demo.accounts.participants[0][0]
    driver.staff_login("admin", "admin-demo-123")
    with Database.factory(app)() as s:
        program = s.scalar(select(bank.Program))
        assignment = s.scalar(select(bank.Assignment).order_by(bank.Assignment.id))
    page = driver.client.get(f"/admin/programs/{program.id}").get_data(as_text=True)
    r = driver.client.post(f"/admin/programs/{program.id}/assignments/{assignment.id}/done",
                           data={"nip": nip, "by": "Mallory", "csrf_token": csrf(page)})
    assert r.status_code == 302
    with Database.factory(app)() as s:
        done = s.scalar(select(bank.AssignmentCompletion))
        assert done.marked_by == "admin"
        assert s.scalar(select(func.count()).select_from(bank.AuditLog).where(
            bank.AuditLog.actor == "Mallory")) == 0
    assert [e.actor for e in _audit(app, "assignment_done")] == ["admin"]


# --- /verify ---------------------------------------------------------------------------------
def test_verify_page_does_not_show_the_nip(client, new_driver, demo):
    holder = new_driver()
    nip, name, password = demo.accounts.participants[1]
    holder.login(nip, password)
    number = holder.take("PRA", correct=True)["certificate_number"]
    assert number
    for path in (f"/verify/{number}", f"/verify?number={number}"):
        r = client.get(path)
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and 'id="verify-status"' in html
        assert name in html and "Pelatihan Pelayanan Publik bagi ASN" in html
        assert nip not in html
        digits = re.sub(r"\D", "", html)
        # Neither whole nor in parts: the birth date and appointment digits are not there at
        # all, not even split by spaces or tags.
        assert nip[:14] not in digits and nip[:8] not in digits, path
        assert "*" * 14 + nip[-4:] in html


# --- Server header of the real servers --------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(demo, *args: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, SMARTCAT_SWEEP_INTERVAL_SECONDS="0",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SMARTCAT_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "smartcat", "serve", "--db", demo.url,
                             "--port", str(port), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"smartcat serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    _stop(proc)
    raise RuntimeError("smartcat serve did not answer")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _raw(url: str, request: bytes) -> str:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def _server_headers(head: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
            if line.lower().startswith("server:")]


def _assert_no_version(values: list[str]) -> None:
    for value in values:
        assert not re.search(r"\d|werkzeug|python", value, re.IGNORECASE), value


@pytest.mark.parametrize("workers", ["1", "2"], ids=["werkzeug", "gunicorn"])
def test_server_header_reveals_no_version(demo, workers):
    proc, url = _serve(demo, "--workers", workers, "--threads", "1")
    try:
        for path in ("/healthz", "/verify", "/no-such-page"):
            r = httpx.get(url + path, timeout=10)
            assert r.headers.get_list("server"), path
            _assert_no_version(r.headers.get_list("server"))
        # An answer the HTTP server writes itself, without the app: a request line too long.
        head = _raw(url, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        assert head.startswith("HTTP/1.1 414"), head
        _assert_no_version(_server_headers(head))
    finally:
        _stop(proc)
