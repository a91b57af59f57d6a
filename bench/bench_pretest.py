"""The item lifecycle end to end: pretest items seeded into live exams, calibrated from the
writer's page, accepted into the bank.

A program of ``--operational`` (300) operational and ``--pretest`` (20) pretest items with
known 2PL parameters (a ~ U(0.8, 2), b ~ N(0, 1); the pretest items are stored without
parameters) and one materi exam (CAT, 10-30 items, SE 0.30, ``--per-attempt`` (5) pretest
items per attempt).  ``--participants`` (2,000) simulated participants of known
theta ~ N(0, 1) answer by the true parameters:

1. **Through HTTP**: bench/bench_load.py's production set-up (a throwaway durable
   PostgreSQL, gunicorn 2 workers x 2 threads), every participant logs in, takes the exam
   and fetches the result.  Then the answers per pretest item in the database (the spread
   against the target ``participants x per-attempt / pretest`` +/- 10 %), the demo writer
   logs in and calibrates the materi from ``/writer/calibration`` (2PL, operational items as
   anchors), accepts every estimate, and the accepted parameters are compared with the truth
   (RMSE of a and b) and their history rows counted.
2. **The same decision in memory** (``item_bank.policy.memory.MemoryWindow``): the same
   examinees twice, once with every pretest answer flipped; how many scores and scored item
   sequences differ (0 expected).  Over HTTP the attempts of other participants move the
   exposure counts between two runs, so the comparison is made where it can be exact.

python bench/bench_pretest.py                       # 2,000 participants, about 10 minutes
python bench/bench_pretest.py --participants 300 --pretest 6 --per-attempt 2   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from bench_load import Gunicorn, Prepared, nips_for, run_participants
from pgserver import PostgresServer
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cat_engine.irt import ItemBank  # noqa: E402
from item_bank import admin  # noqa: E402
from item_bank.db import make_engine, session_factory, upgrade  # noqa: E402
from item_bank.models import Assembly, ExamKind, ProgramSettings  # noqa: E402
from item_bank.policy.decide import Answer  # noqa: E402
from item_bank.policy.facts import ExamFacts  # noqa: E402
from item_bank.policy.memory import MemoryWindow  # noqa: E402
from item_bank.pools import Pool  # noqa: E402
from server import bank  # noqa: E402

PASSWORD = "siklus-butir-123"
WRITER = ("penulis-siklus", "penulis-siklus-123")
SETTINGS = {"min_items": 10, "max_items": 30, "se_target": 0.30, "exam_duration_s": 3 * 3600}


def truth(n_operational: int, n_pretest: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_operational + n_pretest
    return rng.uniform(0.8, 2.0, n), rng.normal(0.0, 1.0, n)


def prepare(url: str, a: np.ndarray, b: np.ndarray, n_operational: int, per_attempt: int,
            participants: int) -> dict:
    """The program, its exam, the participants (one password hash for all) and a writer."""
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        program = admin.create_program(s, code="SIKLUS", name="Siklus butir soal", settings={
            **SETTINGS, "pretest_items_materi": per_attempt})
        materi = admin.add_materi(s, program, code="M1", name="Materi 1",
                                  content_tags=["T1", "T2"])
        for j in range(len(a)):
            operational = j < n_operational
            s.add(admin.new_item(
                program, materi, code=f"S-{j:04d}", stem=f"Soal nomor {j}",
                options=[f"A{j}", f"B{j}", f"C{j}", f"D{j}"], key=j % 4,
                a=float(a[j]) if operational else None, b=float(b[j]) if operational else None,
                c=0.0 if operational else None,
                status="operational" if operational else "pretest",
                content_tag=materi.content_tags[j % 2]))
        s.commit()
        exam = admin.add_exam(s, program, code="UJIAN-M1", kind="materi", materi=materi)
        password_hash = bank.hash_password(PASSWORD)
        people = [bank.Participant(nip=nip, name=f"Peserta {nip[-5:]}", unit="Siklus",
                                   password_hash=password_hash)
                  for nip in nips_for(participants)]
        s.add_all(people)
        s.flush()
        s.add_all(bank.Enrolment(participant_id=p.id, program_id=program.id) for p in people)
        s.add(bank.StaffUser(username=WRITER[0], role=bank.StaffRole.WRITER,
                             password_hash=bank.hash_password(WRITER[1])))
        s.commit()
        items = s.scalars(select(bank.Item).where(bank.Item.program_id == program.id)
                          .order_by(bank.Item.id)).all()
        facts = {"exam_id": exam.id, "program_id": program.id, "materi_id": materi.id,
                 "ids": [i.id for i in items], "keys": [i.key for i in items],
                 "options": [list(i.options) for i in items]}
    engine.dispose()
    return facts


def chooser(facts: dict, a: np.ndarray, b: np.ndarray, thetas: np.ndarray, seed: int):
    """``choose(index, item)``: participant ``index`` answers right with the 2PL probability
    at their theta (the key found by its text among the options as shown)."""
    row = {item_id: j for j, item_id in enumerate(facts["ids"])}
    rng = np.random.default_rng(seed)

    def choose(index: int, item: dict) -> int:
        j = row[item["item_id"]]
        key = item["options"].index(facts["options"][j][facts["keys"][j]])
        right = rng.random() < 1.0 / (1.0 + np.exp(-a[j] * (thetas[index] - b[j])))
        return key if right else (key + 1) % len(item["options"])

    return choose


def writer_calibrates(base: str, facts: dict) -> tuple[int, float]:
    """The writer logs in, asks for a calibration of the materi (2PL), waits on the job's
    page until a worker has run it and accepts every estimate; (run id, seconds from asking
    to the run)."""
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    with httpx.Client(base_url=base, timeout=600) as http:
        page = http.get("/writer/login").text
        r = http.post("/writer/login", data={"username": WRITER[0], "password": WRITER[1],
                                             "csrf_token": token.search(page).group(1)})
        assert r.status_code == 302, r.text
        page = http.get("/writer/calibration").text
        started = time.perf_counter()
        r = http.post("/writer/calibration", data={
            "program_id": facts["program_id"], "materi_id": facts["materi_id"],
            "model": "2pl", "csrf_token": token.search(page).group(1)})
        assert r.status_code == 302, r.text
        job = r.headers["location"]  # the job page, until a worker has run it
        while (r := http.get(job)).status_code == 200:
            assert "refresh" in r.text, r.text  # failed: the page says why
            time.sleep(0.5)
        took = time.perf_counter() - started
        assert r.status_code == 302, r.text
        run_id = int(r.headers["location"].rsplit("/", 1)[1])
        page = http.get(f"/writer/calibration/{run_id}").text
        offered = re.findall(r'name="item_id" value="(\d+)"', page)
        assert offered, page
        r = http.post(f"/writer/calibration/{run_id}/accept", data={
            "item_id": offered, "csrf_token": token.search(page).group(1)})
        assert r.status_code == 302, r.text
    return run_id, took


def in_memory(a: np.ndarray, b: np.ndarray, n_operational: int, per_attempt: int,
              thetas: np.ndarray, seed: int) -> dict:
    """The same examinees on the in-memory window, honest and with pretest answers flipped."""
    n = len(a)
    ids = np.arange(1, n + 1, dtype=np.int64)
    op = slice(0, n_operational)
    pool = Pool(item_ids=ids[op],
                bank=ItemBank(ids=ids[op].astype(str), a=a[op], b=b[op],
                              c=np.zeros(n_operational),
                              content=np.array([f"T{j % 2 + 1}" for j in range(n_operational)])),
                n_options=np.full(n_operational, 4), pretest_ids=ids[n_operational:],
                pretest_n_options=np.full(n - n_operational, 4))
    exam = ExamFacts(1, 1, ExamKind.MATERI, 1, "UJIAN-M1", "", Assembly.CAT, None, None, None,
                     None, None, None, None, None, None)
    settings = ProgramSettings.from_json({**SETTINGS, "pretest_items_materi": per_attempt})
    keys = np.arange(n) % 4
    runs = []
    for flip in (False, True):
        window = MemoryWindow(exam, pool, keys[op], settings,
                              pretest_keys=keys[n_operational:])
        rng = np.random.default_rng(seed)
        outcomes = []
        for person, theta in enumerate(thetas, 1):
            now = dt.datetime(2026, 6, 1, 1, tzinfo=dt.UTC)
            attempt = window.start(person, seed=person, now=now)
            while (shown := window.shown_key(attempt)) is not None:
                item_id, key = shown
                j = int(item_id) - 1
                right = rng.random() < 1.0 / (1.0 + np.exp(-a[j] * (theta - b[j])))
                if flip and j >= n_operational:
                    right = not right
                now += dt.timedelta(seconds=20)
                window.event(attempt, Answer(item_id, key if right else (key + 1) % 4, "T"),
                             now)
            done = window.attempts[attempt]
            outcomes.append(((done.theta, done.se, done.score, done.passed),
                             [r.item_id for r in window.responses[attempt] if not r.pretest]))
        runs.append(outcomes)
    honest, flipped = runs
    return {"examinees": len(thetas),
            "scores_changed": sum(h[0] != f[0] for h, f in zip(honest, flipped, strict=True)),
            "scored_sequences_changed": sum(h[1] != f[1]
                                            for h, f in zip(honest, flipped, strict=True))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--participants", type=int, default=2000)
    p.add_argument("--operational", type=int, default=300)
    p.add_argument("--pretest", type=int, default=20)
    p.add_argument("--per-attempt", type=int, default=5)
    p.add_argument("--pause", type=float, default=0.5, help="mean pause between answers, s")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    a, b = truth(args.operational, args.pretest, args.seed)
    thetas = np.random.default_rng(args.seed + 1).normal(size=args.participants)
    result: dict = {"participants": args.participants, "operational": args.operational,
                    "pretest": args.pretest, "per_attempt": args.per_attempt}
    result["flipped_pretest_answers"] = in_memory(a, b, args.operational, args.per_attempt,
                                                  thetas, args.seed)
    pg = PostgresServer(durable=True, max_connections=100)
    server = None
    try:
        pg.start()
        db = pg.create_database("smartcat")
        facts = prepare(db, a, b, args.operational, args.per_attempt, args.participants)
        server = Gunicorn(db, workers=2, threads=2).start()
        print(f"{args.participants} participants take the exam ...", file=sys.stderr,
              flush=True)
        prepared = Prepared(exam_id=facts["exam_id"], nips=nips_for(args.participants),
                            password=PASSWORD)
        stats, elapsed = asyncio.run(run_participants(
            server.url, prepared, pause_s=args.pause, ramp_s=0.0, seed=args.seed,
            login_first=True, choose=chooser(facts, a, b, thetas, args.seed)))
        result["http"] = {"completed": len(stats.results), "failed": len(stats.failed),
                          "answers": len(stats.acknowledged),
                          "errors_by_status": dict(stats.errors),
                          "answering_s": round(elapsed, 1)}
        engine = make_engine(db)
        with session_factory(engine)() as s:
            rows = s.execute(select(bank.Response.item_id).join(bank.Item).where(
                bank.Response.pretest.is_(True), bank.Response.choice.is_not(None))).all()
            pretest_ids = facts["ids"][args.operational:]
            counts = np.array([sum(1 for (i,) in rows if i == item) for item in pretest_ids])
            target = args.participants * args.per_attempt / args.pretest
            result["answers_per_pretest_item"] = {
                "target": target, "min": int(counts.min()), "max": int(counts.max()),
                "mean": round(float(counts.mean()), 1),
                "within_10_percent": bool(np.all(np.abs(counts - target) <= 0.1 * target))}
        print("the writer calibrates ...", file=sys.stderr, flush=True)
        run_id, took = writer_calibrates(server.url, facts)
        with session_factory(engine)() as s:
            accepted = s.scalars(select(bank.Item).where(bank.Item.id.in_(pretest_ids))
                                 .order_by(bank.Item.id)).all()
            history = s.scalars(select(bank.ItemParameters).where(
                bank.ItemParameters.item_id.in_(pretest_ids))).all()
            truth_a, truth_b = a[args.operational:], b[args.operational:]
            est_a = np.array([i.a for i in accepted], dtype=float)
            est_b = np.array([i.b for i in accepted], dtype=float)
            result["calibration"] = {
                "run_id": run_id, "asked_to_run_s": round(took, 1),
                "operational_now": sum(i.status == bank.ItemStatus.OPERATIONAL
                                       for i in accepted),
                "rmse_a": round(float(np.sqrt(np.mean((est_a - truth_a) ** 2))), 3),
                "rmse_b": round(float(np.sqrt(np.mean((est_b - truth_b) ** 2))), 3),
                "history_rows_from_the_run": sum(h.run_id == run_id for h in history)}
        engine.dispose()
    finally:
        if server is not None:
            server.stop()
        pg.destroy()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
