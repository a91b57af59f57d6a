"""Two gunicorn servers on different ports over the same PostgreSQL database, behind a
round-robin proxy with no sticky sessions, give the same results as one server.

The proxy is written here (a threaded HTTP server forwarding each request to the next
backend in turn), so consecutive requests of one participant land on different processes:
the session cookie, the attempt state and the adaptive item selection must all live in the
shared database and the shared secret, not in a process's memory."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bench_load as load
import httpx
import pytest

pytestmark = pytest.mark.postgres

PARTICIPANTS = 8
ITEMS = 6
# Hop-by-hop headers are the proxy's own business (RFC 9110 section 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length", "host"}


class RoundRobinProxy:
    """Forward request n to ``backends[n % len(backends)]``; count what each one served."""

    def __init__(self, backends: list[str]) -> None:
        self.served: Counter[str] = Counter()
        cycle = itertools.cycle(backends)
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                with lock:
                    backend = next(cycle)
                    proxy.served[backend] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                with httpx.Client(timeout=30) as client:
                    r = client.request(self.command, backend + self.path, content=body,
                                       headers=headers)
                self.send_response(r.status_code)
                for key, value in r.headers.multi_items():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RoundRobinProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _choose(item: dict) -> int:
    """A deterministic examinee: the choice depends on the item only, so two runs that present
    the same items store the same answers (and the CAT then presents the same next item)."""
    return item["item_id"] % len(item["options"])


def _take(base: str, prepared: load.Prepared) -> load.Stats:
    async def run() -> load.Stats:
        stats = load.Stats()
        async with httpx.AsyncClient(timeout=30) as http:
            async def one(nip: str) -> None:
                await load.take_exam(stats, load.Client(http, base).send, nip,
                                     prepared.password, prepared.exam_id, 0.0,
                                     random.Random(0), choose=_choose)
            await asyncio.gather(*(one(nip) for nip in prepared.nips))
        return stats
    return asyncio.run(run())


@pytest.fixture
def two_databases(pg) -> Iterator[tuple[str, str]]:
    """Identical content in two databases: one behind the proxy, one for the single server."""
    yield tuple(pg.create_database(f"rr_{name}") for name in ("pair", "single"))


def _shape(value):
    """The JSON structure of a value: keys and types, not the numbers."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def _stored_as_meant(stats: load.Stats, stored: set) -> None:
    """Exactly the acknowledged answers are stored, ITEMS per participant, each the choice the
    deterministic examinee makes for that item (truth independent of the server)."""
    assert stats.acknowledged == stored
    for nip, attempt in stats.attempts.items():
        mine = [(i, c) for a, i, c in stored if a == attempt]
        assert len(mine) == ITEMS, (nip, mine)
        assert sorted(stats.intended[attempt]) == sorted(mine)


def test_two_servers_round_robin_same_as_one(two_databases, gunicorn_factory):
    pair_db, single_db = two_databases
    prepared = load.prepare_database(pair_db, PARTICIPANTS, items=ITEMS)
    prepared_single = load.prepare_database(single_db, PARTICIPANTS, items=ITEMS)
    backends = [gunicorn_factory(pair_db, workers=1, threads=2),
                gunicorn_factory(pair_db, workers=1, threads=2)]
    assert backends[0].port != backends[1].port
    with RoundRobinProxy([b.url for b in backends]) as proxy:
        pair = _take(proxy.url, prepared)
    single = _take(gunicorn_factory(single_db, workers=1, threads=2).url, prepared_single)

    for stats in (pair, single):
        assert not stats.failed, stats.failed
        assert not stats.errors, stats.errors  # no error status of any kind
        assert len(stats.results) == PARTICIPANTS
    # Both backends served a fair share (strict alternation: the counts differ by <= 1).
    counts = [proxy.served[b.url] for b in backends]
    print(f"round robin: requests per backend {counts}")
    assert min(counts) >= PARTICIPANTS * (ITEMS + 4) // 2 and abs(counts[0] - counts[1]) <= 1
    # The database holds exactly what was acknowledged and meant, in both set-ups.
    _stored_as_meant(pair, load.stored_answers(pair_db, prepared.nips))
    _stored_as_meant(single, load.stored_answers(single_db, prepared_single.nips))
    # Each attempt draws its own random seed (randomesque selection), so the items differ
    # between the two set-ups; the results must have the same shape and the same
    # participants, and each result read through the proxy is what either backend reads.
    assert set(pair.results) == set(single.results) == set(prepared.nips)
    for nip in prepared.nips:
        assert _shape(pair.results[nip]) == _shape(single.results[nip])
        assert 0 <= pair.results[nip]["score"] <= 100
    nip = prepared.nips[0]
    attempt = pair.attempts[nip]
    for backend in backends:
        with httpx.Client(base_url=backend.url, timeout=10) as c:
            assert c.post("/api/v1/session", json={"nip": nip, "password": prepared.password}
                          ).status_code == 200
            r = c.get(f"/api/v1/attempts/{attempt}/result")
            assert r.status_code == 200 and r.json() == pair.results[nip]
