"""Request bodies are bounded: ``MAX_REQUEST_BYTES`` (JSON API, forms) and
``MAX_UPLOAD_BYTES`` (the writer's item import, the roster upload), refused with 413 before
the body is read.  Measured on a real server process (``smartcat serve`` on SQLite): an
anonymous 64 MB body, with a Content-Length and chunked, leaves its memory (VmRSS, and its
peak VmHWM during the request) almost where it was."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server import bank
from server.extensions import Database

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
BODY_BYTES = 64 * MB
MAX_GROWTH_BYTES = 32 * MB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(demo, tmp_path) -> Iterator[tuple[int, int]]:
    """``smartcat serve`` over a copy of the demo database: (pid, port)."""
    port = _free_port()
    env = {**os.environ, "SMARTCAT_SECRET_KEY": "s" * 64, "SMARTCAT_SWEEP_INTERVAL_SECONDS": "0"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartcat", "serve", "--db", demo.url, "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"server exited: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up")
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _memory(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak of VmRSS) of a process, in bytes."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


def _reset_peak(pid: int) -> None:
    # Linux: "5" resets VmHWM to the current VmRSS, so the next reading is this request's peak
    # (memory freed before the reading would not show in VmRSS alone).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _post_huge(port: int, *, chunked: bool) -> bytes:
    """POST a 64 MB JSON body to /api/v1/session; returns the start of the answer.  The
    body is sent by a thread while the answer is read, as a client that does not wait."""
    piece = b"1" * MB
    head = (b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n")
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else \
        f"Content-Length: {BODY_BYTES}\r\n\r\n".encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)

    def send() -> None:
        try:
            sock.sendall(head)
            for n in range(BODY_BYTES // MB):
                data = (b'{"nip": "' + piece[9:]) if n == 0 else piece
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            sock.sendall(b"0\r\n\r\n" if chunked else b"")
        except OSError:
            pass  # the server stopped reading and closed: what it should do

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass
    sender.join(timeout=120)
    sock.close()
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_64mb_anonymous_body_is_413_and_memory_stays(served, chunked):
    pid, port = served
    warm = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/session", method="POST",
                                  data=b'{"nip": "1", "password": "x"}',
                                  headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(warm, timeout=30)
    assert refused.value.code == 401
    refused.value.close()
    _reset_peak(pid)
    before = _memory(pid)
    answer = _post_huge(port, chunked=chunked)
    after = _memory(pid)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert after["VmRSS"] - before["VmRSS"] < MAX_GROWTH_BYTES, (before, after)
    assert after["VmHWM"] - before["VmRSS"] < MAX_GROWTH_BYTES, (before, after)
    # the server still answers
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
        assert r.status == 200


def test_json_body_over_the_request_limit_is_413(client):
    body = b'{"nip": "' + b"1" * (1024 * 1024) + b'", "password": "x"}'
    r = client.post("/api/v1/session", data=body, content_type="application/json")
    assert r.status_code == 413 and r.is_json, r.status_code
    assert (r.json["error"], r.json["message"]) == (
        "request_entity_too_large",
        "Data yang dikirim lebih besar daripada yang dapat diterima server ini.")


def _upload(client, url: str, content: bytes, filename: str, **fields):
    """POST ``content`` as the form's ``file`` (and the other ``fields``), encoded here: the
    test client would spool a large body to a temporary file that stays open when the server
    does not read it."""
    boundary = "smartcat-test-boundary"
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                   f"{value}\r\n" for name, value in fields.items()).encode()
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def admin_client(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    return driver.client


def _program_id(app) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(bank.Program.id).order_by(bank.Program.id))


def test_uploads_of_a_few_mb_work_and_over_the_limit_are_413(app, admin_client):
    program_id = _program_id(app)
    # a roster of 3 MiB: 32 rows whose units are padded with 100 KB of blanks (stripped)
    roster = "nip,name,unit\n" + "".join(
        f"1990010120150310{n:02d},Peserta {n},{' ' * 100_000}Biro {n}\n" for n in range(32))
    assert len(roster) > 3 * MB
    r = _upload(admin_client, f"/admin/programs/{program_id}/roster", roster.encode(), "r.csv")
    assert r.status_code == 302, r.text[-1500:]
    with Database.factory(app)() as s:
        person = s.scalar(select(bank.Participant).where(
            bank.Participant.nip == "199001012015031029"))
        assert (person.name, person.unit) == ("Peserta 29", "Biro 29")
    # the whole bank exported and imported again, padded to 3 MiB
    export = admin_client.get(f"/writer/items/export.json?program_id={program_id}").text
    padded = export + " " * (3 * MB - len(export))
    r = _upload(admin_client, "/writer/items/import", padded.encode(), "items.json",
                program_id=program_id)
    assert r.status_code == 200 and 'id="import-nothing"' in r.text, r.text[-1500:]
    # over MAX_UPLOAD_BYTES (16 MiB by default): 413, the Indonesian page
    big = b"nip,name\n" + b" " * (17 * MB)
    r = _upload(admin_client, f"/admin/programs/{program_id}/roster", big, "r.csv")
    assert r.status_code == 413 and "lebih besar daripada" in r.text
    big = export.encode() + b" " * (17 * MB)
    r = _upload(admin_client, "/writer/items/import", big, "items.json", program_id=program_id)
    assert r.status_code == 413 and "lebih besar daripada" in r.text
    # and a form that is no upload keeps the smaller limit
    r = admin_client.post("/admin/programs", data=f"code=BIG&name={'x' * 2 * MB}",
                          content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413


def test_limits_are_settings(app_factory, demo):
    app = app_factory(MAX_UPLOAD_BYTES=2 * MB, MAX_REQUEST_BYTES=1000, MAX_JSON_DEPTH=2,
                      WTF_CSRF_ENABLED=False)
    c = app.test_client()
    r = c.post("/api/v1/session", json={"nip": "1" * 18, "password": "x" * 1000})
    assert r.status_code == 413
    r = c.post("/api/v1/session", json={"nip": "1" * 18, "password": [[1]]})
    assert (r.status_code, r.json["code"], r.json["params"]) == (400, "json_too_deep",
                                                                 {"limit": 2})
    username, password = demo.accounts.admin
    assert c.post("/writer/login", data={"username": username, "password": password}
                  ).status_code == 302
    roster = b"nip,name\n" + b" " * (3 * MB)
    r = _upload(c, f"/admin/programs/{_program_id(app)}/roster", roster, "r.csv")
    assert r.status_code == 413
