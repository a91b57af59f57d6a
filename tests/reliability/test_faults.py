"""Faults mid-exam on the production set-up (gunicorn + PostgreSQL): a worker killed with
SIGKILL, PostgreSQL restarted, replies lost after the commit, duplicate answers, and a small
load run.  Truth is the database: acknowledged answers must equal stored answers exactly,
each participant has exactly one attempt, and every interrupted attempt is resumed."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import threading
import time

import bench_load as load
import httpx
import pytest

pytestmark = pytest.mark.postgres


def _check(stats, prepared, db_url, items: int) -> None:
    assert not stats.failed, stats.failed
    stored = load.stored_answers(db_url, prepared.nips)
    assert stats.acknowledged == stored  # every acknowledged answer stored, nothing else
    assert len(stored) == len(prepared.nips) * items  # nothing skipped
    # Stored in the order the participants meant, one answer per presented item.
    for attempt, sequence in stats.intended.items():
        assert {(attempt, i, c) for i, c in sequence} <= stored
        assert len({i for i, _ in sequence}) == items
    assert load.attempts_per_participant(db_url, prepared.nips) == {
        nip: 1 for nip in prepared.nips}  # no second attempt for anyone
    assert "500" not in stats.errors and "502" not in stats.errors, stats.errors


def _during(run, action, after_s: float):
    """Run the load ``run`` while ``action`` fires once ``after_s`` seconds in."""
    timer = threading.Timer(after_s, action)
    timer.start()
    try:
        return asyncio.run(run)
    finally:
        timer.cancel()
        timer.join()


def test_small_load_run(pg_db, gunicorn_factory):
    """The benchmark in miniature: 50 participants x 10 items, short pauses."""
    prepared = load.prepare_database(pg_db, 50, items=10)
    server = gunicorn_factory(pg_db, workers=2, threads=4)
    stats, elapsed = asyncio.run(load.run_participants(server.url, prepared, pause_s=0.05,
                                                       ramp_s=1))
    _check(stats, prepared, pg_db, 10)
    summary = load.summary(stats, elapsed, load.stored_answers(pg_db, prepared.nips), 50)
    assert summary["answers_acknowledged"] == summary["answers_stored"] == 500
    assert summary["errors_by_status"] == {}
    assert len(stats.results) == 50 and all(r["score"] is not None
                                            for r in stats.results.values())


def test_worker_sigkill_mid_exam(pg_db, gunicorn_factory):
    prepared = load.prepare_database(pg_db, 20, items=8)
    server = gunicorn_factory(pg_db, workers=2, threads=2)
    victim = server.worker_pids()[0]

    def kill() -> None:
        os.kill(victim, signal.SIGKILL)

    stats, _ = _during(load.run_participants(server.url, prepared, pause_s=0.1, ramp_s=0.5),
                       kill, 1.5)
    assert victim not in server.worker_pids()  # gunicorn replaced it
    _check(stats, prepared, pg_db, 8)


def test_postgres_restart_mid_exam(pg, pg_db, gunicorn_factory):
    prepared = load.prepare_database(pg_db, 20, items=8)
    server = gunicorn_factory(pg_db, workers=2, threads=2)

    def restart() -> None:
        pg.stop("fast")
        time.sleep(2)
        pg.start()

    stats, _ = _during(load.run_participants(server.url, prepared, pause_s=0.1, ramp_s=0.5),
                       restart, 1.5)
    assert stats.errors.get("503", 0) > 0  # the outage was really hit, and answered 503
    _check(stats, prepared, pg_db, 8)


def test_lossy_network_30_percent_of_answer_replies_dropped(pg_db, gunicorn_factory):
    """The request reaches the server and commits; the reply is thrown away (30 %)."""
    prepared = load.prepare_database(pg_db, 10, items=10)
    server = gunicorn_factory(pg_db, workers=2, threads=2)
    rng = random.Random(7)
    dropped = []

    def lossy(send):
        async def wrapped(method, path, body=None):
            status, data = await send(method, path, body)
            if path.endswith("/answers") and rng.random() < 0.3:
                dropped.append(status)
                raise httpx.ReadTimeout("reply lost (test)")
            return status, data
        return wrapped

    stats, _ = asyncio.run(load.run_participants(server.url, prepared, pause_s=0.0,
                                                 ramp_s=0.2, wrap=lossy))
    assert len(dropped) >= 15 and set(dropped) == {200}  # lost after the server committed
    _check(stats, prepared, pg_db, 10)
    assert not any(k.startswith("5") for k in stats.errors), stats.errors


def _send_and_hang_up(base_url: str, path: str, cookies: dict[str, str], body: dict) -> None:
    """POST ``body`` as JSON and close the connection before any reply can be read."""
    url = httpx.URL(base_url)
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Cookie: {'; '.join(f'{k}={v}' for k, v in cookies.items())}\r\n"
            "Connection: close\r\n\r\n")
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + data)


def test_same_answer_twice_and_retry_after_timeout(pg_db, gunicorn_factory):
    prepared = load.prepare_database(pg_db, 1, items=3)
    server = gunicorn_factory(pg_db, workers=2, threads=2)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        c.post("/api/v1/session", json={"nip": prepared.nips[0], "password": prepared.password})
        attempt = c.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={}).json()
        path = f"/api/v1/attempts/{attempt['attempt_id']}/answers"
        item = c.get(f"/api/v1/attempts/{attempt['attempt_id']}/item").json()["item"]
        first = c.post(path, json={"item_id": item["item_id"], "choice": 2})
        again = c.post(path, json={"item_id": item["item_id"], "choice": 2})
        assert first.json()["stored"] is True and again.json()["stored"] is False
        assert again.json()["next_item"]["item_id"] == first.json()["next_item"]["item_id"]
        # A client that gives up before the reply (it sends the answer and hangs up without
        # reading: a read timeout of a few ms would race a server that answers faster), then
        # retries the same answer.
        nxt = first.json()["next_item"]
        _send_and_hang_up(server.url, path, dict(c.cookies),
                          {"item_id": nxt["item_id"], "choice": 0})
        deadline = time.monotonic() + 10
        while len(load.stored_answers(pg_db, prepared.nips)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        retry = c.post(path, json={"item_id": nxt["item_id"], "choice": 0})
        assert retry.status_code == 200 and retry.json()["stored"] is False
        resumed = c.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={}).json()
        assert resumed["attempt_id"] == attempt["attempt_id"] and resumed["resumed"]
    assert load.stored_answers(pg_db, prepared.nips) == {
        (attempt["attempt_id"], item["item_id"], 2), (attempt["attempt_id"], nxt["item_id"], 0)}
