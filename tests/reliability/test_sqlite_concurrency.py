"""The embedded set-up (``smartcat serve`` over an SQLite file: one process, the threaded
server) with 50 participants taking an exam at the same moment: nobody sees "database is
locked" (nor the 503 it would become), no 5xx, and every acknowledged answer is stored."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import bench_load as load
import httpx
import pytest

PARTICIPANTS = 50
ITEMS = 8


@pytest.fixture
def embedded_server(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.sqlite'}"
    prepared = load.prepare_database(url, PARTICIPANTS, items=ITEMS)
    port = load.free_port()
    log_path = tmp_path / "serve.log"
    env = dict(os.environ, SMARTCAT_SECRET_KEY="e" * 64)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartcat", "serve", "--db", url, "--port", str(port)],
            cwd=Path(load.ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()[-2000:]
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "smartcat serve did not start"
            time.sleep(0.2)
        yield base, url, prepared, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_fifty_participants_at_once_on_sqlite(embedded_server):
    base, url, prepared, log_path = embedded_server
    bodies: list[str] = []

    def recording(send):
        async def wrapped(method, path, body=None):
            status, data = await send(method, path, body)
            bodies.append(json.dumps(data))
            return status, data
        return wrapped

    # All 50 start together (no ramp) and answer without pauses: the worst case for locks.
    stats, elapsed = asyncio.run(load.run_participants(base, prepared, pause_s=0.0, ramp_s=0.0,
                                                       timeout_s=120, wrap=recording))
    assert not stats.failed, stats.failed
    assert not any("locked" in b.lower() for b in bodies)
    assert "database is locked" not in log_path.read_text()
    # No error status at all: a lock wait that ran out would have been a 503.
    assert not stats.errors, stats.errors
    stored = load.stored_answers(url, prepared.nips)
    assert stats.acknowledged == stored
    assert len(stored) == PARTICIPANTS * ITEMS
    assert load.attempts_per_participant(url, prepared.nips) == {
        nip: 1 for nip in prepared.nips}
    assert len(stats.results) == PARTICIPANTS
    print(f"sqlite: {len(stored)} answers stored in {elapsed:.1f} s, p99 "
          f"{load.summary(stats, elapsed, stored, PARTICIPANTS)['latency_ms']['p99']} ms")
