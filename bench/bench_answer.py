"""In-process CPU per answer: this checkout against an earlier commit, alternating attempts.

Each tree (the checkout, or ``--old REV`` checked out into a temporary git worktree) runs in
a process of its own on its own database of a private PostgreSQL: the demo program (its
pre-assessment made a fixed 30-item CAT, as ``bench_load.py`` prepares it) and
``--participants`` participants logged in through the Flask test client (argon2, not
measured).  Then the two processes take turns, one whole attempt at a time (old, new, new,
old, ...): each participant starts the exam and answers every item, and the CPU time of the
process is summed over the answer requests alone and divided by the answers.  No HTTP
server and no network: what is measured is the application's own work per answer (Flask,
the policy, the driver's side of the database round trips).  Turns of a few tens of
milliseconds mean that whatever else the machine does in the meantime (other processes on
the cores, the host's steal) falls on both trees alike; each round is a fresh pair of
databases and processes, and the table shows every round and the ratio of the medians.

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


def serve(db_url: str, participants: int) -> None:
    """The process of one tree (``--child``): prepare and log in, print ``ready``, then take
    one attempt per ``attempt`` line on stdin and print its answers and their CPU seconds."""
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
    import item_bank

    print(json.dumps({"ready": str(Path(item_bank.__file__).parent.parent)}), flush=True)
    for client, line in zip(clients, sys.stdin, strict=False):
        assert line.strip() == "attempt", line
        r = client.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={})
        attempt = r.get_json()["attempt_id"]
        item = client.get(f"/api/v1/attempts/{attempt}/item").get_json()["item"]
        cpu, answers = 0.0, 0
        while item is not None:
            body = {"item_id": item["item_id"], "choice": item["item_id"] % 4}
            start = time.process_time()
            r = client.post(f"/api/v1/attempts/{attempt}/answers", json=body)
            cpu += time.process_time() - start
            assert r.status_code == 200, r.get_json()
            answers += 1
            item = r.get_json()["next_item"]
        print(json.dumps({"answers": answers, "cpu": cpu}), flush=True)


class Child:
    """One tree's process, spoken to line by line."""

    def __init__(self, tree: Path, db_url: str, participants: int) -> None:
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'bench'}"}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "bench_answer.py"), "--child", db_url,
             "--participants", str(participants)], cwd=tree, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.code = self._reply()["ready"]
        self.cpu, self.answers = 0.0, 0

    def _reply(self) -> dict:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.process.wait(timeout=60)
            raise RuntimeError(f"run failed:\n{self.process.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        return json.loads(line)

    def attempt(self) -> None:
        self.process.stdin.write("attempt\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        reply = self._reply()
        self.cpu += reply["cpu"]
        self.answers += reply["answers"]

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=60)

    @property
    def ms_per_answer(self) -> float:
        return 1000 * self.cpu / self.answers


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
        serve(args.child, args.participants)
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
            children: dict[str, Child] = {}
            for name, tree in trees.items():
                database = f"ab_{name}_{uuid.uuid4().hex[:8]}"
                pgserver.admin_execute(url, f'CREATE DATABASE "{database}"')
                children[name] = Child(tree, pgserver.with_database(url, database),
                                       args.participants)
            order = list(children.values())
            for turn in range(args.participants):
                # old, new, then new, old: neither goes first more often than the other
                for child in order if turn % 2 == 0 else order[::-1]:
                    child.attempt()
            for name, child in children.items():
                child.close()
                runs[name].append(child.ms_per_answer)
                print(f"round {round_} {name:>3}: {child.ms_per_answer:.3f} ms CPU per answer "
                      f"({child.answers} answers, code in {child.code})", flush=True)
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
