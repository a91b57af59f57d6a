"""The cold start: from a bank with writer ratings only to a calibrated CAT bank.

A materi of ``--items`` (200) items of known 2PL parameters (a ~ U(0.8, 2), b ~ N(0, 1)) has
no parameters, only its writers' ratings: each item's share of right answers in the
population, rated easy (over 65 %), medium or hard (under 40 %) and one rating in
``--misrated`` (20 %) one step off, stored as the guesses 0.8 / 0.55 / 0.3.  The product turns
them into provisional parameters (a = 1, ``item_bank.models.item.provisional_parameters``);
the exam runs as ``--length`` (40) item LOFT forms scored by proportion correct
(``item_bank.policy.decide``, on the in-memory window of the live decision).  ``--people``
(2,000) participants of known theta ~ N(0, 1) take it; a concurrent calibration of their
answers (``calibration.calibrate``, 2PL, no anchors: what the writers' calibration runs when
the pool holds no calibrated item) gives the bank's parameters, and the exam switches to CAT
(10-30 items, SE 0.30) for ``--people`` new participants.

Printed: the RMSE of the provisional and of the calibrated parameters against the truth, and
the classification accuracy at cut 70 (the true domain score of each participant against
theirs) before (LOFT, proportion correct) and after (CAT, domain score).

python bench/bench_cold_start.py                  # 200 items, 2,000 + 2,000 participants
python bench/bench_cold_start.py --people 500     # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from calibration.api import calibrate  # noqa: E402
from calibration.data import ResponseData  # noqa: E402
from cat_engine.irt import ItemBank  # noqa: E402
from cat_engine.scoring import domain_score  # noqa: E402
from item_bank.models import Assembly, ExamKind, ProgramSettings  # noqa: E402
from item_bank.models.item import provisional_parameters  # noqa: E402
from item_bank.policy.decide import Answer  # noqa: E402
from item_bank.policy.facts import ExamFacts  # noqa: E402
from item_bank.policy.memory import MemoryWindow  # noqa: E402
from item_bank.pools import Pool  # noqa: E402

CUT = 70.0
GUESSES = (0.8, 0.55, 0.3)  # easy, medium, hard


def ratings(a: np.ndarray, b: np.ndarray, misrated: float,
            rng: np.random.Generator) -> np.ndarray:
    """Each item's writer guess: its true share of right answers in N(0, 1), rated easy /
    medium / hard, a share ``misrated`` of them one step off."""
    grid = np.linspace(-5, 5, 401)
    weights = np.exp(-grid ** 2 / 2)
    p = (weights / (1 + np.exp(-a[:, None] * (grid - b[:, None])))).sum(1) / weights.sum()
    rating = np.where(p > 0.65, 0, np.where(p < 0.40, 2, 1))
    off = rng.random(a.size) < misrated
    step = np.where(rating == 0, 1, np.where(rating == 2, -1, rng.choice([-1, 1], a.size)))
    return np.array(GUESSES)[np.where(off, rating + step, rating)]


def take(window: MemoryWindow, people: np.ndarray, a: np.ndarray, b: np.ndarray,
         rng: np.random.Generator, first: int) -> tuple[list, list]:
    """Every participant takes the window's exam answering by the true 2PL; (the finished
    attempts, the (person, item, right) answers)."""
    done, answers = [], []
    now = dt.datetime(2026, 6, 1, 1, tzinfo=dt.UTC)
    for k, theta in enumerate(people):
        person = first + k
        attempt = window.start(person, seed=person, now=now)
        while (shown := window.shown_key(attempt)) is not None:
            item_id, key = shown
            j = int(item_id) - 1
            right = rng.random() < 1.0 / (1.0 + np.exp(-a[j] * (theta - b[j])))
            answers.append((person, j, int(right)))
            window.event(attempt, Answer(item_id, key if right else (key + 1) % 4, "T"), now)
        done.append(window.attempts[attempt])
    return done, answers


def accuracy(passed: list[bool], true_scores: np.ndarray) -> float:
    return float(np.mean(np.array(passed) == (true_scores >= CUT)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--people", type=int, default=2000)
    p.add_argument("--length", type=int, default=40)
    p.add_argument("--misrated", type=float, default=0.20)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n = args.items
    a, b = rng.uniform(0.8, 2.0, n), rng.normal(0.0, 1.0, n)
    guess = ratings(a, b, args.misrated, rng)
    prov_b = np.array([provisional_parameters(g) for g in guess])
    ids = np.arange(1, n + 1, dtype=np.int64)
    content = np.array([f"T{j % 2 + 1}" for j in range(n)])
    keys = np.arange(n) % 4

    def pool(a_, b_, provisional):
        return Pool(item_ids=ids, bank=ItemBank(ids=ids.astype(str), a=a_, b=b_,
                                                c=np.zeros(n), content=content),
                    n_options=np.full(n, 4),
                    provisional=np.ones(n, dtype=bool) if provisional else None)

    started = time.perf_counter()
    loft = ExamFacts(1, 1, ExamKind.MATERI, 1, "UJIAN", "", Assembly.LOFT, CUT, None, None,
                     None, args.length, args.length, None, None, None)
    settings = ProgramSettings.from_json({"pretest_items_materi": 0,
                                          "exam_duration_s": 3 * 3600})
    before_people = rng.normal(size=args.people)
    window = MemoryWindow(loft, pool(np.ones(n), prov_b, True), keys, settings)
    done, answers = take(window, before_people, a, b, rng, 1)
    true_before = np.array([domain_score(t, a, b, np.zeros(n)) for t in before_people])
    assert all(d.scored_by == "proportion" for d in done)
    before = {"rmse_a": float(np.sqrt(np.mean((1.0 - a) ** 2))),
              "rmse_b": float(np.sqrt(np.mean((prov_b - b) ** 2))),
              "accuracy_at_cut": accuracy([d.passed for d in done], true_before),
              "answers_per_item": round(len(answers) / n, 1)}

    persons, items, correct = (np.array(c) for c in zip(*answers, strict=True))
    fit = calibrate(ResponseData.from_long(persons, items.astype(str), correct), "2pl")
    order = np.argsort(np.array(fit.item_ids, dtype=int))
    est_a, est_b = np.asarray(fit.a)[order], np.asarray(fit.b)[order]

    cat = ExamFacts(1, 1, ExamKind.MATERI, 1, "UJIAN", "", Assembly.CAT, CUT, None, None,
                    None, 10, 30, 0.30, None, None)
    after_people = rng.normal(size=args.people)
    window = MemoryWindow(cat, pool(est_a, est_b, False), keys, settings)
    done, _ = take(window, after_people, a, b, rng, args.people + 1)
    true_after = np.array([domain_score(t, a, b, np.zeros(n)) for t in after_people])
    after = {"rmse_a": float(np.sqrt(np.mean((est_a - a) ** 2))),
             "rmse_b": float(np.sqrt(np.mean((est_b - b) ** 2))),
             "accuracy_at_cut": accuracy([d.passed for d in done], true_after),
             "mean_length": float(np.mean([len(window.responses[i]) for i in window.attempts]))}
    print(json.dumps({"items": n, "people": args.people, "length": args.length,
                      "misrated": args.misrated,
                      "before_loft_provisional": {k: round(v, 3) for k, v in before.items()},
                      "after_cat_calibrated": {k: round(v, 3) for k, v in after.items()},
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
