"""Load generator: N participants log in, take a CAT exam with realistic pauses, get results.

Each simulated participant logs in (``POST /api/v1/session``), starts the exam, answers every
item after a pause drawn from an exponential distribution (mean ``--pause`` seconds; think
time of a person reading an item), retries an answer whose reply was lost (timeout,
connection error, 503) with the same choice, and finally fetches the result.  Afterwards the
answers stored in the database are counted, so the JSON printed at the end compares what the
server acknowledged with what it really stored::

    {"participants", "answers_sent", "answers_acknowledged", "answers_stored",
     "errors_by_status", "latency_ms": {"p50", "p95", "p99", "max"}, "throughput_answers_per_s",
     ...}

By default it starts its own production set-up: a throwaway PostgreSQL with durable defaults
(bench/pgserver.py: initdb/pg_ctl in a temporary directory), the demo program with the
pre-assessment turned into a fixed-length CAT (``--items``), N enrolled participants, and
gunicorn (``--workers``, ``--threads``).  ``--url`` and ``--db`` target a running server
prepared with ``--prepare-only`` instead.

All participants log in (argon2, a few at a time), start and get their first item before the
measured phase; then all answer at once.  The JSON adds the window while all of them are
still answering (``all_in_exam``), the CPU per answer of generator, gunicorn and
PostgreSQL, the machine's steal time meanwhile and the worst 10 s of the tail with the steal
in them (see docs/operations.md).

Examples
--------
python bench/bench_load.py                                   # 2,000 x 30 items, pause 10 s
python bench/bench_load.py --participants 50 --items 10 --pause 0.2   # a quick run
python bench/bench_load.py --prepare-only --db postgresql://.../smartcat --participants 500
python bench/bench_load.py --url http://127.0.0.1:8000 --db postgresql://.../smartcat

The tests in tests/reliability import this module for its harness (gunicorn, participants,
the stored answers) and run a small load as part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pgserver import PostgresServer, free_port
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from item_bank.db import make_engine, session_factory  # noqa: E402
from server import bank  # noqa: E402
from server.demo import build_demo  # noqa: E402

PASSWORD = "beban-uji-123"
NIP_PREFIX = "1990010120250"  # + 5 digits = an 18-digit NIP
EXAM_CODE = "PRA"


# --------------------------------------------------------------------------- data


@dataclass
class Prepared:
    exam_id: int
    nips: list[str]
    password: str = PASSWORD


def nips_for(participants: int) -> list[str]:
    if not 1 <= participants <= 99_999:
        raise ValueError(f"participants must be 1..99999, got {participants}")
    return [f"{NIP_PREFIX}{n:05d}" for n in range(1, participants + 1)]


def prepare_database(url: str, participants: int, items: int = 30) -> Prepared:
    """The demo program, its pre-assessment made a fixed ``items``-item CAT of 3 hours, and
    ``participants`` enrolled participants sharing one password (hashed once: argon2 per row
    would take minutes and is not what is measured)."""
    accounts = build_demo(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            s.execute(update(bank.Exam).where(bank.Exam.code == EXAM_CODE).values(
                min_items=items, max_items=items, duration_s=3 * 3600))
            exam_id = s.scalar(select(bank.Exam.id).where(bank.Exam.code == EXAM_CODE))
            password_hash = bank.hash_password(PASSWORD)
            nips = nips_for(participants)
            people = [bank.Participant(nip=nip, name=f"Peserta {nip[-5:]}", unit="Beban",
                                       password_hash=password_hash) for nip in nips]
            s.add_all(people)
            s.flush()
            s.add_all([bank.Enrolment(participant_id=p.id, program_id=accounts.program_id)
                       for p in people])
            s.commit()
        if engine.dialect.name == "postgresql":
            # What autovacuum does to a bank that has settled (docs/operations.md): statistics
            # and the visibility map (index-only scans).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return Prepared(exam_id=exam_id, nips=nips)


def stored_answers(url: str, nips: list[str]) -> set[tuple[int, int, int]]:
    """(attempt_id, item_id, shown choice) of every answered response of these participants."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(bank.Response.attempt_id, bank.Response.item_id,
                       bank.Response.shown_choice)
                .join(bank.Attempt, bank.Attempt.id == bank.Response.attempt_id)
                .join(bank.Participant, bank.Participant.id == bank.Attempt.participant_id)
                .where(bank.Participant.nip.in_(nips), bank.Response.answered_at.is_not(None)))
            return {tuple(r) for r in rows}
    finally:
        engine.dispose()


def attempts_per_participant(url: str, nips: list[str]) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(bank.Participant.nip, func.count(bank.Attempt.id))
                .join(bank.Attempt, bank.Attempt.participant_id == bank.Participant.id)
                .where(bank.Participant.nip.in_(nips)).group_by(bank.Participant.nip))
            return dict(rows.all())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- gunicorn


class Gunicorn:
    """The production server (``smartcat serve --workers``'s command line) on a free port."""

    def __init__(self, db_url: str, *, workers: int = 2, threads: int = 4,
                 port: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        from smartcat.commands.serve import gunicorn_command, pool_size

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tempfile.mkdtemp(prefix="smartcat-load-metrics-")
        self.log = Path(self.metrics_dir) / "gunicorn.log"
        env = dict(os.environ, SMARTCAT_DATABASE_URL=db_url,
                   SMARTCAT_SECRET_KEY="load-test-secret-" + "x" * 40,
                   SMARTCAT_DB_POOL_SIZE=str(pool_size(threads)),
                   PROMETHEUS_MULTIPROC_DIR=self.metrics_dir)
        env.update(extra_env or {})
        self.command = gunicorn_command("127.0.0.1", self.port, workers, threads)
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


# --------------------------------------------------------------------------- participants


class ReplyLost(ConnectionError):
    """The connection closed or broke before a whole reply arrived."""


# A reply that never came: retried with the same request.  httpx's errors stay listed because
# the tests drive take_exam through httpx clients and fake lost replies with them; TimeoutError
# and ConnectionError (ReplyLost) are OSErrors.
RETRYABLE = (httpx.TransportError, OSError, asyncio.IncompleteReadError)


@dataclass
class Stats:
    """What the clients saw; ``acknowledged`` holds (attempt, item, choice) answered 200."""

    answers_sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    # perf_counter() at which each answer was acknowledged, aligned with latencies_ms.
    answered_at: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    acknowledged: set[tuple[int, int, int]] = field(default_factory=set)
    intended: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    exam_started: float | None = None  # perf_counter() when the measured answering began
    first_finished: float | None = None  # ... when the first participant sent its last answer


# ``send(method, path, json)`` -> (status, body); raises one of RETRYABLE when no reply.
Send = Callable[[str, str, Any], Awaitable[tuple[int, Any]]]


class Client:
    """One participant's HTTP conversation over a shared httpx pool, with its own cookie."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http, self.base, self.cookie = http, base, ""

    async def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        r = await self.http.request(method, self.base + path, json=body, headers=headers)
        session = r.cookies.get("session")
        if session:
            self.cookie = f"session={session}"
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None


class LeanPool:
    """A minimal HTTP/1.1 keep-alive client for the load generator.

    The generator shares the machine's cores with the server it measures, so its own CPU per
    request counts against the result: httpx spends about 2-5 ms per request (its pool scans
    every connection on each request), this about 0.1 ms.  It speaks only what the exam API
    needs: JSON bodies, Content-Length or chunked replies, one cookie.  Idle connections are
    reused most-recent-first and dropped after ``idle_s`` (below gunicorn's keep-alive of 5 s,
    so the server never closes one under a request that is being sent).
    """

    def __init__(self, base: str, *, timeout_s: float = 30.0, max_connections: int = 400,
                 idle_s: float = 3.0) -> None:
        host_port = base.removeprefix("http://").rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.host_header = host_port.encode()
        self.timeout_s, self.idle_s = timeout_s, idle_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < self.idle_s and not reader.at_eof():
                return reader, writer
            # Everything below it in the stack is older still.
            for _, old, _ in [(reader, writer, since), *self.idle]:
                old.close()
            self.idle.clear()
        return await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes | None,
                      cookie: str) -> tuple[int, bytes, str | None]:
        """(status, body, new session cookie or None); ReplyLost / TimeoutError if none."""
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        if cookie:
            head.append(b"Cookie: " + cookie.encode())
        if body is not None:
            head.append(b"Content-Type: application/json")
            head.append(b"Content-Length: " + str(len(body)).encode())
        elif method != "GET":
            head.append(b"Content-Length: 0")
        data = b"\r\n".join(head) + b"\r\n\r\n" + (body or b"")
        async with self.slots:
            reader, writer = await self._connection()
            keep = False
            try:
                async with asyncio.timeout(self.timeout_s):
                    writer.write(data)
                    status, payload, session, keep = await self._reply(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise ReplyLost(f"{method} {path}: connection closed mid-reply") from exc
            finally:
                if keep:
                    self.idle.append((reader, writer, time.monotonic()))
                else:
                    writer.close()
        return status, payload, session

    @staticmethod
    async def _reply(reader: asyncio.StreamReader) -> tuple[int, bytes, str | None, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        length, chunked, keep, session = None, False, True, None
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                keep = value.strip().lower() != "close"
            elif name == "set-cookie" and value.lstrip().startswith("session="):
                session = value.strip().split(";", 1)[0]
        if chunked:
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")
            payload = b"".join(parts)
        elif length is not None:
            payload = await reader.readexactly(length)
        else:
            payload, keep = await reader.read(), False
        return status, payload, session, keep

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


class LeanClient:
    """One participant's conversation over a shared :class:`LeanPool`, with its own cookie."""

    def __init__(self, pool: LeanPool) -> None:
        self.pool, self.cookie = pool, ""

    async def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = None if body is None else json.dumps(body).encode()
        status, payload, session = await self.pool.request(method, path, raw, self.cookie)
        if session:
            self.cookie = session
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, None


async def with_retries(stats: Stats, send: Send, method: str, path: str, body: Any = None, *,
                       budget_s: float = 60.0, measure: bool = False) -> tuple[int, Any]:
    """Send until a reply that is not 503 / lost; every try is counted (and timed)."""
    deadline = time.monotonic() + budget_s
    delay = 0.2
    while True:
        started = time.perf_counter()
        if measure:
            stats.answers_sent += 1
        try:
            status, data = await send(method, path, body)
        except RETRYABLE as exc:
            stats.errors[type(exc).__name__] += 1
            status, data = None, None
        else:
            if measure:
                done = time.perf_counter()
                stats.latencies_ms.append((done - started) * 1000)
                stats.answered_at.append(done)
            if status != 200 and status != 201:
                stats.errors[str(status)] += 1
            if status != 503:
                return status, data
        if time.monotonic() > deadline:
            raise RuntimeError(f"{method} {path}: no answer within {budget_s} s")
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


async def take_exam(stats: Stats, send: Send, nip: str, password: str, exam_id: int,
                    pause_s: float, rng: random.Random, *,
                    choose: Callable[[dict], int] | None = None,
                    ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """Log in, start (or resume) the exam, answer every item, fetch the result.

    ``ready`` is awaited between receiving the first item and answering it (the measured
    phase of a benchmark starts when every participant is there).
    """
    status, data = await with_retries(stats, send, "POST", "/api/v1/session",
                                      {"nip": nip, "password": password})
    if status != 200:
        raise RuntimeError(f"login {nip}: {status} {data}")
    status, data = await with_retries(stats, send, "POST", f"/api/v1/exams/{exam_id}/attempts",
                                      {})
    if status != 201:
        raise RuntimeError(f"start {nip}: {status} {data}")
    attempt = data["attempt_id"]
    stats.attempts[nip] = attempt
    status, data = await with_retries(stats, send, "GET", f"/api/v1/attempts/{attempt}/item")
    item = data["item"] if status == 200 else None
    if ready is not None:
        await ready()
    while item is not None:
        if pause_s > 0:
            await asyncio.sleep(rng.expovariate(1.0 / pause_s))
        choice = choose(item) if choose else rng.randrange(len(item["options"]))
        stats.intended.setdefault(attempt, []).append((item["item_id"], choice))
        status, data = await with_retries(
            stats, send, "POST", f"/api/v1/attempts/{attempt}/answers",
            {"item_id": item["item_id"], "choice": choice}, measure=True)
        if status != 200:
            raise RuntimeError(f"answer {nip}: {status} {data}")
        stats.acknowledged.add((attempt, item["item_id"], choice))
        item = data["next_item"]
    if stats.first_finished is None:
        stats.first_finished = time.perf_counter()
    status, data = await with_retries(stats, send, "GET", f"/api/v1/attempts/{attempt}/result")
    if status != 200:
        raise RuntimeError(f"result {nip}: {status} {data}")
    stats.results[nip] = data


class _Gate:
    """Holds every participant until all have logged in and received their first item."""

    def __init__(self, stats: Stats, total: int,
                 on_open: Callable[[], None] | None = None) -> None:
        self.stats, self.waiting, self.event = stats, total, asyncio.Event()
        self.on_open = on_open

    def leave(self) -> None:
        """One participant is there (or gave up): open when none is missing."""
        self.waiting -= 1
        if self.waiting <= 0 and not self.event.is_set():
            if self.on_open is not None:
                self.on_open()
            self.stats.exam_started = time.perf_counter()
            self.event.set()

    async def arrive(self) -> None:
        self.leave()
        await self.event.wait()


async def run_participants(base: str, prepared: Prepared, *, pause_s: float, ramp_s: float,
                           seed: int = 1, timeout_s: float = 30.0,
                           wrap: Callable[[Send], Send] | None = None,
                           max_connections: int = 400,
                           login_first: bool = False,
                           on_exam_start: Callable[[], None] | None = None,
                           login_concurrency: int = 4,
                           choose: Callable[[int, dict], int] | None = None,
                           ) -> tuple[Stats, float]:
    """Every participant of ``prepared`` takes the exam; participants start spread uniformly
    over ``ramp_s`` seconds.  ``wrap`` lets a test put a faulty network around ``send``.

    ``login_first``: every participant logs in, starts the attempt and gets the first item
    during the ramp; the answering starts for all of them at once when the last one is there,
    and the returned duration is that of the answering phase only (the benchmark: argon2
    logins are not what it measures); ``on_exam_start`` is called at that moment.  At most
    ``login_concurrency`` participants are logging in at a time then: an argon2 check costs
    about 0.2 s of CPU, and a queue of them would only time out.  Otherwise the duration runs
    from the first login.  ``choose(index, item)``: the option the participant of that
    index picks for a shown item (default: one at random).
    """
    stats = Stats()
    pool = LeanPool(base, timeout_s=timeout_s, max_connections=max_connections)
    gate = _Gate(stats, len(prepared.nips), on_exam_start) if login_first else None
    entry = asyncio.Semaphore(login_concurrency)

    async def one(index: int, nip: str) -> None:
        rng = random.Random(seed * 1_000_003 + index)
        await asyncio.sleep(ramp_s * index / max(len(prepared.nips), 1))
        send = LeanClient(pool).send
        arrived = False

        async def ready() -> None:
            nonlocal arrived
            arrived = True
            entry.release()
            await gate.arrive()

        if gate is not None:
            await entry.acquire()
        try:
            await take_exam(stats, wrap(send) if wrap else send, nip, prepared.password,
                            prepared.exam_id, pause_s, rng, ready=ready if gate else None,
                            choose=None if choose is None else functools.partial(choose, index))
        except Exception as exc:  # reported in the JSON, the others carry on
            stats.failed[nip] = f"{type(exc).__name__}: {exc}"
        finally:
            if gate is not None and not arrived:
                entry.release()
                gate.leave()

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(i, nip) for i, nip in enumerate(prepared.nips)))
    finally:
        pool.close()
    finished = time.perf_counter()
    if stats.exam_started is not None:
        started = stats.exam_started
    return stats, finished - started


def summary(stats: Stats, elapsed: float, stored: set, participants: int) -> dict[str, Any]:
    def percentiles(values: list[float]) -> dict[str, float]:
        lat = np.array(values) if values else np.zeros(1)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        return {"p50": round(float(p50), 1), "p95": round(float(p95), 1),
                "p99": round(float(p99), 1), "max": round(float(lat.max()), 1)}

    result = {
        "participants": participants,
        "completed": len(stats.results),
        "failed_participants": len(stats.failed),
        "answers_sent": stats.answers_sent,
        "answers_acknowledged": len(stats.acknowledged),
        "answers_stored": len(stored),
        "acknowledged_equals_stored": stats.acknowledged == stored,
        "errors_by_status": dict(stats.errors),
        "latency_ms": percentiles(stats.latencies_ms),
        "duration_s": round(elapsed, 1),
        "throughput_answers_per_s": round(len(stats.acknowledged) / elapsed, 1),
        "first_failures": dict(list(stats.failed.items())[:3]),
    }
    if stats.exam_started is not None and stats.first_finished is not None:
        # While all participants are still in the exam the load is at its full rate; the
        # tail after the first one finishes is lighter and would flatter the averages.
        window = stats.first_finished - stats.exam_started
        inside = [ms for ms, at in zip(stats.latencies_ms, stats.answered_at, strict=True)
                  if at <= stats.first_finished]
        result["all_in_exam"] = {"duration_s": round(window, 1), "answers": len(inside),
                                 "answers_per_s": round(len(inside) / max(window, 1e-9), 1),
                                 "latency_ms": percentiles(inside)}
    return result


def _process_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _steal_and_total() -> tuple[int, int]:
    """Steal and total CPU ticks of the whole machine so far (the ``cpu`` line of /proc/stat:
    user nice system idle iowait irq softirq steal; guest time is inside user)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return ticks[7], sum(ticks)


class CpuMeter:
    """CPU seconds spent by the load generator, the gunicorn workers and PostgreSQL's
    processes between :meth:`start` and :meth:`stop` (all share this machine's cores), and
    the machine's steal time meanwhile, sampled every second: the share of the CPU the
    hypervisor gave to other guests.  Steal stalls every process at once, so a latency
    percentile says little about the code where it was high."""

    def __init__(self, pg: PostgresServer, server: Gunicorn) -> None:
        self.pg, self.server = pg, server
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}
        self.ticks: list[tuple[float, int, int]] = []  # (perf_counter, steal, total)
        self._stopped = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), *_steal_and_total()))

    def _sample(self) -> None:
        self._tick()
        while not self._stopped.wait(1.0):
            self._tick()

    def _now(self) -> dict[str, float]:
        postmaster = int((self.pg.data / "postmaster.pid").read_text().split()[0])
        return {"generator": _process_cpu_s([os.getpid()]),
                "gunicorn": _process_cpu_s(self.server.worker_pids()),
                "postgresql": _process_cpu_s([postmaster, *_children(postmaster)])}

    def start(self) -> None:
        self.before = self._now()
        self._sampler.start()

    def stop(self) -> None:
        after = self._now()
        self.spent = {k: after[k] - self.before[k] for k in after}
        self._stopped.set()
        self._sampler.join()
        self._tick()

    def steal_pct(self, start: float | None = None, end: float | None = None) -> dict[str, float]:
        """Steal as a percentage of the CPU between two perf_counter times (default: the
        whole phase; the one-second samples that span them): its mean and its worst 10 s."""
        at, steal, total = np.array(self.ticks, dtype=np.float64).T
        inside = (at >= (at[0] if start is None else start) - 1) & (
            at <= (at[-1] if end is None else end) + 1)
        steal, total = steal[inside], total[inside]
        if len(steal) < 2:
            return {"mean": 0.0, "worst_10s": 0.0}

        def pct(lag: int) -> np.ndarray:
            return 100 * (steal[lag:] - steal[:-lag]) / np.maximum(total[lag:] - total[:-lag], 1)

        return {"mean": round(float(pct(len(steal) - 1)[0]), 1),
                "worst_10s": round(float(pct(min(10, len(steal) - 1)).max()), 1)}

    def per_answer_ms(self, answers: int) -> dict[str, float]:
        per = {k: round(v * 1000 / max(answers, 1), 2) for k, v in self.spent.items()}
        per["total"] = round(sum(self.spent.values()) * 1000 / max(answers, 1), 2)
        return per


def worst_window(stats: Stats, meter: CpuMeter, width_s: float = 10.0) -> dict[str, float]:
    """The ``width_s`` seconds of the answering phase with the highest p99 answer latency (by
    reply time), with the machine's steal time then: a tail set by the host shows there."""
    done = np.array(stats.answered_at) - stats.exam_started
    latency = np.array(stats.latencies_ms)
    bins = (done // width_s).astype(int)
    worst, p99 = 0, -1.0
    for b in np.unique(bins[bins >= 0]):
        value = float(np.percentile(latency[bins == b], 99))
        if value > p99:
            worst, p99 = int(b), value
    start = stats.exam_started + worst * width_s
    return {"from_s": worst * width_s, "answers": int((bins == worst).sum()),
            "p99_ms": round(p99, 1),
            "steal_pct": meter.steal_pct(start, start + width_s)["mean"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--participants", type=int, default=2000)
    p.add_argument("--items", type=int, default=30, help="test length of the CAT")
    p.add_argument("--pause", type=float, default=10.0, help="mean pause between answers, s")
    p.add_argument("--ramp", type=float, default=0.0,
                   help="spread the participants' starts over this many seconds")
    p.add_argument("--login-concurrency", type=int, default=4,
                   help="participants logging in at a time before the exam (argon2-bound)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--url", help="target a running server (with --db)")
    p.add_argument("--db", help="database of --url, prepared with --prepare-only")
    p.add_argument("--prepare-only", action="store_true",
                   help="only load the demo and participants into --db")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    options = {"pause_s": args.pause, "ramp_s": args.ramp, "seed": args.seed,
               "login_first": True, "login_concurrency": args.login_concurrency}
    setup = {"workers": args.workers, "threads": args.threads, "items": args.items,
             "mean_pause_s": args.pause,
             "measured": "answering phase: all participants logged in, started and got their "
                         "first item before it began (argon2 logins are not measured)"}
    if args.prepare_only or args.url:
        if not args.db:
            p.error("--prepare-only and --url need --db")
        if args.prepare_only:
            prepared = prepare_database(args.db, args.participants, args.items)
            print(json.dumps({"exam_id": prepared.exam_id, "participants": len(prepared.nips)}))
            return 0
        engine = make_engine(args.db)
        with session_factory(engine)() as s:
            exam_id = s.scalar(select(bank.Exam.id).where(bank.Exam.code == EXAM_CODE))
        engine.dispose()
        prepared = Prepared(exam_id=exam_id, nips=nips_for(args.participants))
        stats, elapsed = asyncio.run(run_participants(args.url, prepared, **options))
        result = summary(stats, elapsed, stored_answers(args.db, prepared.nips),
                         args.participants)
        result.update(measured=setup["measured"])
        print(json.dumps(result))
        return 0
    pg = PostgresServer(durable=True, max_connections=max(100, args.workers * 40))
    server = None
    try:
        pg.start()
        db = pg.create_database("smartcat")
        prepared = prepare_database(db, args.participants, args.items)
        server = Gunicorn(db, workers=args.workers, threads=args.threads).start()
        meter = CpuMeter(pg, server)
        print(f"logging in {args.participants} participants ...", file=sys.stderr, flush=True)

        def exam_start() -> None:
            meter.start()
            print("all in the exam: measuring the answering phase", file=sys.stderr,
                  flush=True)

        stats, elapsed = asyncio.run(run_participants(server.url, prepared,
                                                      on_exam_start=exam_start, **options))
        meter.stop()
        result = summary(stats, elapsed, stored_answers(db, prepared.nips), args.participants)
        result["cpu_ms_per_answer"] = meter.per_answer_ms(len(stats.acknowledged))
        result["cpu_steal_pct"] = meter.steal_pct()
        result["worst_10s"] = worst_window(stats, meter)
        result.update(setup, postgresql="durable: fsync and synchronous_commit on (defaults)")
        print(json.dumps(result))
    finally:
        if server is not None:
            server.stop()
        pg.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
