"""In-process CPU per answer: this checkout against an earlier commit, alternating runs.

Each run is a fresh process on one tree (the checkout, or ``--old REV`` checked out into a
temporary git worktree): the demo program on a private PostgreSQL (its pre-assessment made a
fixed 30-item CAT, as ``bench_load.py`` prepares it), ``--participants`` participants log in
through the Flask test client (argon2, not measured), then each starts the exam and answers
every item; the CPU time of the process is summed over the answer requests alone and divided
by the answers.  No HTTP server and no network: what is measured is the application's own
work per answer (Flask, the policy, the driver's side of the database round trips).  The
runs alternate old, new, old, new, ... so that a machine that speeds up or slows down during
the benchmark moves both alike; the table shows every run and the ratio of the medians.

Run: ``.venv/bin/python bench/bench_answer.py --old 7021f64 [--new REV] [--rounds 3]
[--participants 40]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(db_url: str, participants: int) -> dict:
    """The measured run, inside the process of the tree under test (``--child``)."""
    import bench_load as load

    from server import create_app

    prepared = load.prepare_database(db_url, participants)
    app = create_app({"DATABASE_URL": db_url, "TESTING": True, "SECRET_KEY": "b" * 64,
                      "SWEEP_INTERVAL_SECONDS": 0, "LOGIN_LIMIT": 10**6})
    clients = []
    for nip in prepared.nips:
        client = app.test_client()
        r = client.post("/api/v1/session", json={"nip": nip, "password": load.PASSWORD})
        assert r.status_code == 200, r.get_json()
        clients.append(client)
    cpu, answers = 0.0, 0
    for client in clients:
        r = client.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={})
        attempt = r.get_json()["attempt_id"]
        item = client.get(f"/api/v1/attempts/{attempt}/item").get_json()["item"]
        while item is not None:
            body = {"item_id": item["item_id"], "choice": item["item_id"] % 4}
            start = time.process_time()
            r = client.post(f"/api/v1/attempts/{attempt}/answers", json=body)
            cpu += time.process_time() - start
            assert r.status_code == 200, r.get_json()
            answers += 1
            item = r.get_json()["next_item"]
    import item_bank

    return {"answers": answers, "ms_per_answer": 1000 * cpu / answers,
            "code": str(Path(item_bank.__file__).parent.parent)}


def _run(tree: Path, db_url: str, participants: int) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'bench'}"}
    done = subprocess.run([sys.executable, str(HERE / "bench_answer.py"), "--child", db_url,
                           "--participants", str(participants)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"run on {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="the commit to compare with (a git revision)")
    parser.add_argument("--new", help="a commit to measure instead of this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--child", metavar="DB_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # The tree under test comes first on PYTHONPATH: not this file's directory, which
        # Python puts before it.
        if Path(sys.path[0] or ".").resolve() == HERE:
            del sys.path[0]
        print(json.dumps(measure(args.child, args.participants)))
        return 0
    sys.path.insert(0, str(HERE))
    import pgserver

    scratch = Path(tempfile.mkdtemp(prefix="smartcat-ab-"))
    trees: dict[str, Path] = {}
    for name, revision in (("old", args.old), ("new", args.new)):
        if revision:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(scratch / name), revision], check=True)
            trees[name] = scratch / name
    trees.setdefault("new", ROOT)
    server = pgserver.PostgresServer(durable=True, max_connections=50)
    url = server.start()
    runs: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for round_ in range(1, args.rounds + 1):
            for name, tree in trees.items():
                database = f"ab_{name}_{uuid.uuid4().hex[:8]}"
                pgserver.admin_execute(url, f'CREATE DATABASE "{database}"')
                result = _run(tree, pgserver.with_database(url, database), args.participants)
                runs[name].append(result["ms_per_answer"])
                print(f"round {round_} {name:>3}: {result['ms_per_answer']:.3f} ms CPU per "
                      f"answer ({result['answers']} answers, code in {result['code']})",
                      flush=True)
    finally:
        server.destroy()
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    print(json.dumps({"ms_per_answer": runs, "median": medians,
                      **({"new_over_old": medians["new"] / medians["old"]}
                         if "old" in medians else {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
