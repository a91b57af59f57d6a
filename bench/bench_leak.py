"""A leak simulation: how soon the leak monitor flags leaked items, and how often intact ones.

A materi exam (CAT, 10-30 items, SE 0.30) over 300 operational 2PL items (a ~ U(0.8, 2),
b ~ N(0, 1)) runs on the in-memory window of the live decision
(``item_bank.policy.memory.MemoryWindow``).  ``--before`` (500) honest attempts of examinees
with theta ~ N(0, 1); then 5 items chosen at random leak: ``--known`` (30 %) of the later
participants know their keys and answer them right.  After every ``--every`` (250) later
attempts the monitor (:func:`calibration.leaks.leak_scan`, FDR 0.05 over the bank) runs on
every finished attempt's scored answers; the table gives, against the attempts since the leak,
how many of the 5 are flagged and how many of the 295 others have been flagged at any check
so far, per seed and in all.

Beside it, what the answers can tell at all: an **oracle** that knows each participant's true
theta and the moment of the leak tests each leaked item's answers since the leak,
``Z = sum(x - P(theta)) / sqrt(sum P(1 - P))``, against the one-sided level that lets about
2 of 295 intact items through (``z > 2.47``, the goal's false-flag budget spent on one test per
item, no multiplicity beyond it); ``oracle_above`` is how many of the 5 it would flag.  No
monitor that sees only the answers does better than this oracle, so where it falls short of 4
the goal is beyond the evidence of that many attempts.

python bench/bench_leak.py                    # 10 seeds x 2,000 attempts after the leak
python bench/bench_leak.py --seeds 2 --after 1000   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from calibration.leaks import leak_scan  # noqa: E402
from cat_engine.irt import ItemBank  # noqa: E402
from item_bank.models import Assembly, ExamKind, ProgramSettings  # noqa: E402
from item_bank.policy.decide import Answer  # noqa: E402
from item_bank.policy.facts import ExamFacts  # noqa: E402
from item_bank.policy.memory import MemoryWindow  # noqa: E402
from item_bank.pools import Pool  # noqa: E402

N_ITEMS, N_LEAKED = 300, 5
# One-sided normal quantile of 2 / 295: the goal's false-flag budget on one test per item.
ORACLE_Z = 2.47
SETTINGS = {"min_items": 10, "max_items": 30, "se_target": 0.30, "pretest_items_materi": 0}


def run(seed: int, before: int, after: int, every: int, known: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.8, 2.0, N_ITEMS), rng.normal(0.0, 1.0, N_ITEMS)
    ids = np.arange(1, N_ITEMS + 1, dtype=np.int64)
    pool = Pool(item_ids=ids, bank=ItemBank(ids=ids.astype(str), a=a, b=b, c=np.zeros(N_ITEMS),
                                            content=np.array([f"T{i % 2}" for i in ids])),
                n_options=np.full(N_ITEMS, 4))
    exam = ExamFacts(1, 1, ExamKind.MATERI, 1, "UJIAN", "", Assembly.CAT, None, None, None,
                     None, None, None, None, None, None)
    keys = rng.integers(0, 4, N_ITEMS)
    window = MemoryWindow(exam, pool, keys, ProgramSettings.from_json(SETTINGS))
    leaked = set(rng.choice(ids, N_LEAKED, replace=False).tolist())
    log_items, log_attempts, log_correct, log_theta, log_after = [], [], [], [], []
    rows, false_ever, start = [], set(), dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for person in range(1, before + after + 1):
        theta = rng.normal()
        knows = person > before and rng.random() < known
        attempt = window.start(person, seed=int(rng.integers(2**31)), now=start)
        while (shown := window.shown_key(attempt)) is not None:
            item_id, key = shown
            j = item_id - 1
            right = (knows and item_id in leaked) or (
                rng.random() < 1.0 / (1.0 + np.exp(-a[j] * (theta - b[j]))))
            window.event(attempt, Answer(item_id, key if right else (key + 1) % 4, "T"), start)
        for r in window.responses[attempt]:
            log_items.append(r.item_id)
            log_attempts.append(attempt)
            log_correct.append(int(bool(r.correct)))
            log_theta.append(theta)
            log_after.append(person > before)
        since = person - before
        if since > 0 and since % every == 0:
            items = np.array(log_items)
            tests = leak_scan(items, np.array(log_attempts), np.array(log_correct),
                              a[items - 1], b[items - 1], np.zeros(items.size))
            flagged = {t.item for t in tests if t.flagged}
            false_ever |= flagged - leaked
            rows.append({"after": since, "leaked_flagged": len(flagged & leaked),
                         "others_flagged_ever": len(false_ever),
                         "oracle_above": _oracle(items, np.array(log_correct),
                                                 np.array(log_theta), np.array(log_after),
                                                 a, b, leaked)})
    return rows


def _oracle(items: np.ndarray, correct: np.ndarray, theta: np.ndarray, after: np.ndarray,
            a: np.ndarray, b: np.ndarray, leaked: set[int]) -> int:
    """How many leaked items the oracle's test (module doc) puts above ``ORACLE_Z``."""
    above = 0
    for item in leaked:
        mine = (items == item) & after
        p = 1.0 / (1.0 + np.exp(-a[item - 1] * (theta[mine] - b[item - 1])))
        if mine.any() and (correct[mine] - p).sum() / np.sqrt((p * (1 - p)).sum()) > ORACLE_Z:
            above += 1
    return above


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--before", type=int, default=500)
    p.add_argument("--after", type=int, default=2000)
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--known", type=float, default=0.30)
    args = p.parse_args(argv)
    per_seed = {}
    for seed in range(1, args.seeds + 1):
        per_seed[seed] = run(seed, args.before, args.after, args.every, args.known)
        last = per_seed[seed][-1]
        print(f"seed {seed}: " + "  ".join(f"{r['after']}: {r['leaked_flagged']}/5 "
                                           f"+{r['others_flagged_ever']} "
                                           f"(oracle {r['oracle_above']}/5)"
                                           for r in per_seed[seed]), file=sys.stderr,
              flush=True)
        del last
    table = []
    for k, row in enumerate(per_seed[1]):
        leaked = [per_seed[s][k]["leaked_flagged"] for s in per_seed]
        others = [per_seed[s][k]["others_flagged_ever"] for s in per_seed]
        oracle = [per_seed[s][k]["oracle_above"] for s in per_seed]
        table.append({"attempts_since_leak": row["after"],
                      "leaked_flagged_mean": round(float(np.mean(leaked)), 2),
                      "leaked_flagged_min": int(min(leaked)),
                      "others_flagged_max": int(max(others)),
                      "others_flagged_mean": round(float(np.mean(others)), 2),
                      "oracle_above_mean": round(float(np.mean(oracle)), 2),
                      "oracle_at_least_4_in_seeds": sum(o >= 4 for o in oracle)})
    final = [per_seed[s][-1] for s in per_seed]
    print(json.dumps({"seeds": args.seeds, "known": args.known, "table": table,
                      "goal_met_in_seeds": sum(r["leaked_flagged"] >= 4
                                               and r["others_flagged_ever"] <= 2
                                               for r in final)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
