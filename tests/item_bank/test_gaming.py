"""The small version of bench/bench_gaming.py: no gaming strategy passes more examinees of
true domain score 60 (cut 70) than answering honestly to the end.

A dozen of the bench's strategies (each kind, the shortest and the longest lead), 100
examinees each, through the exam policy's own decision.  The examinees answer from the same
random streams under every strategy, so a strategy that paid would show it here, not drown in
noise.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_gaming.py"
_spec = importlib.util.spec_from_file_location("bench_gaming", _BENCH)
gaming = importlib.util.module_from_spec(_spec)
sys.modules["bench_gaming"] = gaming
_spec.loader.exec_module(gaming)

EXAMINEES = 100
STRATEGIES = ("honest, to the end", "knows 0 answers, then Finish",
              "knows 2 answers, then Finish", "knows 4 answers, then Finish",
              "knows 6 answers, then Finish", "knows 7 answers, then Finish",
              "knows 2 answers, then lets the time run out",
              "knows 7 answers, then lets the time run out", "honest, Finish at the minimum",
              "2 wrong on purpose, then honest", "3 honest, leaves, comes back in time",
              "3 honest, leaves for good")


def test_no_gaming_strategy_passes_more_than_honest_answering():
    every = gaming.strategies()
    rates = gaming.pass_rates(EXAMINEES, seed=3, plays={name: every[name] for name in STRATEGIES})
    honest = rates["honest, to the end"][0]
    # Not vacuous: honest answering passes some of them (true score 60 is below the cut,
    # but not far), so a strategy that added passes could show.
    assert honest >= 0.05 * EXAMINEES, honest
    beaten = {name: passes for name, (passes, _s) in rates.items() if passes > honest}
    assert not beaten, (honest, beaten)
    # The rules that do it: a short or unfinished attempt cannot keep a lucky start.
    assert rates["knows 2 answers, then Finish"][0] == 0
    assert rates["knows 2 answers, then lets the time run out"][0] == 0
    assert rates["honest, Finish at the minimum"][0] < honest
