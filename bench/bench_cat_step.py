"""Benchmark: one CAT step, this engine vs catsim, on the same 3PL banks.

One step = take the response to the last item, update theta, select the next item by maximum
Fisher information among the items not yet given.

* this engine: ``record_response`` (EAP from the running log-likelihood on the 121-point grid:
  one row of the bank's cached ``grid_table`` added, O(Q)) then ``next_item`` (exact maximum
  information from the theta cell's list of 256 items, block upper bounds when the list cannot
  prove the answer), with ``step_rng(seed, position)`` as the step's generator, as in live
  exams and ``simulate``;
* catsim 0.21.0: ``NumericalSearchEstimator`` (its ability estimator; catsim has no EAP)
  then ``MaxInfoSelector.select``.

Both start each timed step from the same state: 10 items already given with mixed responses.
Run: ``.venv/bin/pip install catsim==0.21.0 && .venv/bin/python bench/bench_cat_step.py``
(``--sizes 500 5000`` for fewer banks, ``--reps N`` for fewer timed steps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# The checkout this file is in, not whichever copy of the package is installed (an editable
# install may point at another worktree).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cat_engine.assembly import next_item, record_response, start_attempt, step_rng
from cat_engine.config import CatConfig
from cat_engine.simulation import generate_bank
from cat_engine.stopping import StoppingRule

SIZES = (500, 5_000, 50_000)
PRIOR_ITEMS = 10
REPS_ENGINE = 2000
CATSIM_BUDGET_S = 4.0  # time per bank size for catsim (its steps are slow)


def _prior_history(bank, rng, config):
    """A state after PRIOR_ITEMS items chosen by the engine, answered at a random true theta."""
    true_theta = rng.standard_normal()
    state = start_attempt(config)
    for _ in range(PRIOR_ITEMS):
        item = next_item(state, bank, config, rng=rng)
        p = bank.c[item] + (1 - bank.c[item]) / (1 + np.exp(-bank.a[item] * (true_theta
                                                                              - bank.b[item])))
        state = record_response(state, bank, item, int(rng.random() < p), config)
    return state


def bench_engine(bank, histories, config, reps: int) -> np.ndarray:
    times = []
    for i in range(reps):
        state, item, u = histories[i % len(histories)]
        t0 = time.perf_counter()
        new = record_response(state, bank, item, u, config)
        next_item(new, bank, config, rng=step_rng(i, len(new.items) + 1))
        times.append(time.perf_counter() - t0)
    return np.array(times)


def bench_catsim(bank, histories, reps: int) -> np.ndarray | None:
    try:
        from catsim.estimation import NumericalSearchEstimator
        from catsim.item_bank import ItemBank as CatsimBank
        from catsim.selection import MaxInfoSelector
    except ImportError:
        return None
    cbank = CatsimBank(np.column_stack([bank.a, bank.b, bank.c, np.ones(len(bank))]))
    estimator, selector = NumericalSearchEstimator(), MaxInfoSelector()
    times = []
    deadline = time.perf_counter() + CATSIM_BUDGET_S
    i = 0
    while (i < 20 or time.perf_counter() < deadline) and i < reps:
        state, item, u = histories[i % len(histories)]
        given = [*state.items, item]
        answers = [bool(r) for r in (*state.responses, u)]
        t0 = time.perf_counter()
        theta = estimator.estimate(item_bank=cbank, administered_items=given,
                                   response_vector=answers, est_theta=state.estimate.theta)
        selector.select(item_bank=cbank, administered_items=given, est_theta=theta)
        times.append(time.perf_counter() - t0)
        i += 1
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="bank sizes")
    parser.add_argument("--reps", type=int, default=REPS_ENGINE, help="timed steps per bank")
    args = parser.parse_args()
    rng = np.random.default_rng(20240601)
    config = CatConfig(stopping=StoppingRule(max_items=50))
    rows = []
    for n in args.sizes:
        bank = generate_bank(n, "3pl", rng=rng)
        histories = []
        for _ in range(50):
            state = _prior_history(bank, rng, config)
            item = next_item(state, bank, config, rng=rng)
            histories.append((state, item, int(rng.integers(2))))
        bench_engine(bank, histories[:5], config, 5)  # warm-up
        ours = bench_engine(bank, histories, config, args.reps)
        theirs = bench_catsim(bank, histories, args.reps)
        rows.append((n, np.median(ours), None if theirs is None else np.median(theirs),
                     None if theirs is None else theirs.size))
    print(f"{'items':>7} {'engine median':>14} {'catsim median':>14} {'ratio':>8}  (catsim steps)")
    for n, ours, theirs, count in rows:
        if theirs is None:
            print(f"{n:>7} {ours * 1e6:>11.1f} µs {'(not installed)':>14}")
        else:
            print(f"{n:>7} {ours * 1e6:>11.1f} µs {theirs * 1e3:>11.2f} ms {theirs / ours:>7.1f}x"
                  f"  ({count})")
    print("targets: engine <= 200 µs at 50,000 items; >= 25x faster than catsim at 5,000 items")


if __name__ == "__main__":
    main()
