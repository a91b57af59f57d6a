"""Client CPU of an answer's reads: psycopg directly against SQLAlchemy Core, same statements.

The PostgreSQL store of the exam policy (:mod:`item_bank.policy.store_pg`) sends its SQL
through the driver's cursor.  This measures whether SQLAlchemy Core, with its compiled-statement
cache warm, would cost as little: on a private PostgreSQL with the demo program and one running
attempt, the two reads of every answer (lock the participant and read the clock; read the
attempt's facts) are run ``--rounds`` times as one transaction each, three ways:

* psycopg: the store's own SQL on a pooled driver connection (prepared by the driver);
* Core ``text()``: the same SQL on a SQLAlchemy ``Connection``;
* Core ``select()``: the lock as a Core construct (the attempt read stays ``text()``).

It prints the process CPU per transaction of each and the ratios to psycopg.

Run: ``.venv/bin/python bench/bench_sql_driver.py [--rounds 3000]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_load as load  # noqa: E402
import pgserver  # noqa: E402
from sqlalchemy import func, literal, select, text  # noqa: E402

from item_bank import policy  # noqa: E402
from item_bank.db import make_engine, session_factory  # noqa: E402
from item_bank.models import Participant  # noqa: E402
from item_bank.policy import store_pg  # noqa: E402


def _core_sql(sql: str) -> str:
    """psycopg's ``%(name)s`` placeholders as SQLAlchemy's ``:name``."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    server = pgserver.PostgresServer(durable=True, max_connections=20)
    server.start()
    try:
        database = server.create_database(f"sql_{uuid.uuid4().hex[:8]}")
        prepared = load.prepare_database(database, 1)
        engine = make_engine(database, pool_size=2)
        with session_factory(engine)() as s:
            pid = s.scalar(select(Participant.id).where(Participant.nip == prepared.nips[0]))
            view = policy.start_attempt(s, participant_id=pid, exam_id=prepared.exam_id)
        params = {"participant_id": pid, "attempt_id": view.attempt_id}
        lock_core = select(func.clock_timestamp()).select_from(
            select(literal(1)).select_from(Participant.__table__)
            .where(Participant.__table__.c.id == pid).with_for_update().subquery())
        lock_text, read_text = text(_core_sql(store_pg._LOCK)), text(_core_sql(store_pg._ATTEMPT))

        raw = engine.raw_connection()
        cursor = raw.driver_connection.cursor()

        def psycopg_tx() -> None:
            cursor.execute(store_pg._LOCK, params).fetchone()
            cursor.execute(store_pg._ATTEMPT, params).fetchone()
            raw.driver_connection.commit()

        core = engine.connect()

        def core_text_tx() -> None:
            core.execute(lock_text, params).fetchone()
            core.execute(read_text, params).fetchone()
            core.commit()

        def core_select_tx() -> None:
            core.execute(lock_core).fetchone()
            core.execute(read_text, params).fetchone()
            core.commit()

        results = {}
        for name, run in (("psycopg", psycopg_tx), ("core_text", core_text_tx),
                          ("core_select", core_select_tx)) * 2:
            for _ in range(200):  # warm: prepared statements, compiled caches
                run()
            start = time.process_time()
            for _ in range(args.rounds):
                run()
            us = 1e6 * (time.process_time() - start) / args.rounds
            results.setdefault(name, []).append(round(us, 1))
        best = {name: min(values) for name, values in results.items()}
        print(json.dumps({"client_cpu_us_per_transaction": results, "best": best,
                          "ratio_to_psycopg": {n: round(v / best["psycopg"], 2)
                                               for n, v in best.items()}}))
        core.close()
        raw.close()
        engine.dispose()
    finally:
        server.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
