"""Where an answer's in-process CPU goes: the CPU time of each stage of the answer requests.

The set-up of ``bench_answer.py`` (a private durable PostgreSQL, the demo program with a fixed
30-item CAT, ``--participants`` participants through the Flask test client), with the stages
below wrapped so that each adds the process CPU time (``time.process_time``) spent inside it
during an answer request.  Stages nest, so a row includes the rows under it; the wrapping
itself costs about a microsecond per call.  Prints one table, microseconds per answer, a
stage's depth shown by its dots.

Run: ``.venv/bin/python bench/bench_answer_stages.py [--participants 40]``
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import bench_load as load  # noqa: E402
import pgserver  # noqa: E402

_SPENT: Counter[str] = Counter()
_ON = [False]


def _wrap(owner: Any, name: str, label: str) -> None:
    function = getattr(owner, name)

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if not _ON[0]:
            return function(*args, **kwargs)
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            _SPENT[label] += time.process_time() - start

    setattr(owner, name, timed)


def _instrument() -> list[tuple[str, int]]:
    """Wrap the stages; (label, depth) in the order the table prints them."""
    import flask
    import psycopg
    from sqlalchemy.engine.base import Engine
    from sqlalchemy.pool.base import _ConnectionFairy

    import item_bank.policy as policy
    import server.api.attempts as attempts
    import server.inputs as inputs
    import server.security as security
    from item_bank.policy.store_pg import PgStore

    decide = sys.modules["item_bank.policy.decide"]
    stages = [
        (flask.Flask, "wsgi_app", "request (Flask app)", 0),
        (flask.ctx.RequestContext, "push", "request context push (session cookie, routing)", 1),
        (security._SessionInterface, "open_session", "session cookie opened", 2),
        (flask.Flask, "preprocess_request", "before-request hooks", 1),
        (inputs, "_check_request", "input checks", 2),
        (flask.Flask, "dispatch_request", "view", 1),
        (attempts, "json_body", "request JSON parsed", 2),
        (policy, "record_answer", "policy.record_answer", 2),
        (Engine, "raw_connection", "pool checkout", 3),
        (PgStore, "locked_attempt", "lock and load (round trip; with BEGIN)", 3),
        (policy, "decide", "decide (pure)", 3),
        (decide, "_cat", "the attempt as the engine's bank", 4),
        (decide, "_engine_state", "replay (the estimate)", 4),
        (decide, "_select", "next item (selection and its rng)", 4),
        (PgStore, "apply", "write (round trip)", 3),
        (psycopg.Connection, "commit", "commit (round trip)", 3),
        (_ConnectionFairy, "close", "pool checkin", 3),
        (attempts, "json_response", "reply JSON written", 2),
        (flask.Flask, "process_response", "after-request hooks and session save", 1),
        (flask.ctx.RequestContext, "pop", "request context pop (teardown)", 1),
    ]
    for owner, name, label, _depth in stages:
        _wrap(owner, name, label)
    return [(label, depth) for _owner, _name, label, depth in stages]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=40)
    args = parser.parse_args()
    rows = _instrument()
    from server import create_app

    server = pgserver.PostgresServer(durable=True, max_connections=50)
    server.start()
    try:
        db_url = server.create_database(f"stages_{uuid.uuid4().hex[:8]}")
        prepared = load.prepare_database(db_url, args.participants)
        app = create_app({"DATABASE_URL": db_url, "TESTING": True, "SECRET_KEY": "b" * 64,
                          "SWEEP_INTERVAL_SECONDS": 0, "LOGIN_LIMIT": 10**6})
        cpu, answers = 0.0, 0
        for nip in prepared.nips:
            client = app.test_client()
            r = client.post("/api/v1/session", json={"nip": nip, "password": load.PASSWORD})
            assert r.status_code == 200, r.get_json()
            r = client.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={})
            attempt = r.get_json()["attempt_id"]
            item = client.get(f"/api/v1/attempts/{attempt}/item").get_json()["item"]
            while item is not None:
                body = {"item_id": item["item_id"], "choice": item["item_id"] % 4}
                _ON[0] = True
                start = time.process_time()
                r = client.post(f"/api/v1/attempts/{attempt}/answers", json=body)
                cpu += time.process_time() - start
                _ON[0] = False
                assert r.status_code == 200, r.get_json()
                answers += 1
                item = r.get_json()["next_item"]
    finally:
        server.destroy()
    print(f"{answers} answers, {1e3 * cpu / answers:.3f} ms CPU per answer request "
          "(test client included)\n")
    print("| stage | µs per answer |\n|---|---:|")
    for label, depth in rows:
        print(f"| {'· ' * depth}{label} | {1e6 * _SPENT[label] / answers:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
