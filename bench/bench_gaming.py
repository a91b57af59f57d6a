"""Gaming strategies against the live exam rules: can a weak participant pass without knowing?

2,000 simulated examinees whose true domain score is 60 take the demo's materi exam (the
demo's first materi pool, 3PL; minimum 8 and maximum 15 items, cut 70, 15 minutes), each
playing one strategy.  Every event goes through the exam policy's own decision
(:mod:`item_bank.policy.decide`, on the in-memory store :class:`~item_bank.policy.memory.
MemoryWindow`), so the table measures what participants meet, including how a Finish before
the minimum, an expired attempt and an abandoned one are graded.  Each strategy has a window
of its own and the same examinees (the same random streams), so the rates differ by the
strategy, not by luck.  No strategy may pass more examinees than answering honestly to the end.

Run: ``.venv/bin/python bench/bench_gaming.py [--examinees 2000] [--seed 1]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cat_engine.irt import ItemBank  # noqa: E402
from cat_engine.scoring import theta_for_score  # noqa: E402
from item_bank.errors import Conflict  # noqa: E402
from item_bank.models import Assembly, ExamKind, ProgramSettings  # noqa: E402
from item_bank.policy.decide import Answer, Finish, Look, Sweep  # noqa: E402
from item_bank.policy.facts import ExamFacts  # noqa: E402
from item_bank.policy.memory import MemoryWindow  # noqa: E402
from item_bank.pools import Pool  # noqa: E402
from server.demo_content import demo_items  # noqa: E402

T0 = dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC)
TRUE_SCORE, CUT = 60.0, 70.0
SECOND = dt.timedelta(seconds=1)


def demo_materi_exam(materi: str = "PP") -> tuple[ExamFacts, Pool, np.ndarray]:
    """The demo's materi exam as the policy sees it: its rules, its pool, the answer keys."""
    records = [r for r in demo_items() if r["materi"] == materi]
    ids = np.arange(1, len(records) + 1, dtype=np.int64)
    bank = ItemBank(ids=ids.astype(str), a=np.array([r["a"] for r in records]),
                    b=np.array([r["b"] for r in records]),
                    c=np.array([r["c"] for r in records]),
                    content=np.array([r["tag"] for r in records]))
    pool = Pool(item_ids=ids, bank=bank, n_options=np.full(len(records), 4))
    exam = ExamFacts(id=1, program_id=1, kind=ExamKind.MATERI, materi_id=1,
                     code=f"UJIAN-{materi}", title="", assembly=Assembly.CAT, cut_score=CUT,
                     max_attempts=5, duration_s=15 * 60, waiting_period_s=None, min_items=8,
                     max_items=15, se_target=None, window_opens_at=None, window_closes_at=None)
    return exam, pool, np.array([r["key"] for r in records])


class Examinee:
    """One examinee's attempt in a window: the item on the screen, answers as told."""

    def __init__(self, window: MemoryWindow, number: int, theta: float, seed: int) -> None:
        self.window, self.theta = window, theta
        self.rng = np.random.default_rng([seed, number])  # answers: the same for every strategy
        self.now = T0 + dt.timedelta(minutes=20 * number)
        self.attempt = window.start(number, seed=seed * 100_003 + number, now=self.now)
        self.deadline = window.attempts[self.attempt].deadline

    @property
    def running(self) -> bool:
        return self.window.attempts[self.attempt].running

    def answer(self, how: str = "honest") -> None:
        """Answer the current item honestly (by the model at the true theta), right or wrong."""
        item_id, key = self.window.shown_key(self.attempt)
        if how == "honest":
            i = int(np.searchsorted(self.window.pool.item_ids, item_id))
            bank = self.window.pool.bank
            p = bank.c[i] + (1 - bank.c[i]) / (1 + math.exp(-bank.a[i] * (self.theta -
                                                                            bank.b[i])))
            right = self.rng.random() < p
        else:
            right = how == "right"
        self.now += 20 * SECOND
        self.window.event(self.attempt, Answer(item_id, key if right else (key + 1) % 4, "T"),
                          self.now)

    def honestly_to_the_end(self) -> None:
        while self.running:
            self.answer()

    def finish(self) -> None:
        try:
            self.window.event(self.attempt, Finish(False, "T"), self.now)
        except Conflict:  # fewer answers than the minimum: the page asks, the examinee insists
            self.window.event(self.attempt, Finish(True, "T"), self.now)

    def passed(self) -> bool:
        return bool(self.window.attempts[self.attempt].passed)


Strategy = Callable[[Examinee], None]


def _know(k: int, then: str) -> Strategy:
    """Knows the first ``k`` answers (a leak), then Finish or let the time run out."""
    def play(e: Examinee) -> None:
        for _ in range(k):
            if e.running:
                e.answer("right")
        if not e.running:
            return
        if then == "finish":
            e.finish()
        else:
            e.window.event(e.attempt, Sweep("T"), e.deadline + 6 * SECOND)
    return play


def _steer(wrong: int) -> Strategy:
    """Answers the first items wrong on purpose (an easier CAT?), then honestly."""
    def play(e: Examinee) -> None:
        for _ in range(wrong):
            if e.running:
                e.answer("wrong")
        e.honestly_to_the_end()
    return play


def _abandon(answers: int, back: bool) -> Strategy:
    """Answers a few honestly and leaves; comes back before the deadline, or never."""
    def play(e: Examinee) -> None:
        for _ in range(answers):
            if e.running:
                e.answer()
        if not e.running:
            return
        if back:
            e.now = e.deadline - 8 * dt.timedelta(minutes=1)
            e.window.event(e.attempt, Look("T"), e.now)  # the page again: resumed
            e.honestly_to_the_end()
        else:
            e.window.event(e.attempt, Sweep("T"), e.deadline + 6 * SECOND)
    return play


def _finish_at_minimum(e: Examinee) -> None:
    """Answers honestly, and presses Finish the moment the minimum is reached."""
    while e.running and sum(r.answered for r in e.window.responses[e.attempt]) < 8:
        e.answer()
    if e.running:
        e.finish()


def strategies() -> dict[str, Strategy]:
    plays: dict[str, Strategy] = {"honest, to the end": Examinee.honestly_to_the_end}
    for k in range(8):
        plays[f"knows {k} answers, then Finish"] = _know(k, "finish")
    for k in range(8):
        plays[f"knows {k} answers, then lets the time run out"] = _know(k, "time")
    plays["honest, Finish at the minimum"] = _finish_at_minimum
    plays["2 wrong on purpose, then honest"] = _steer(2)
    plays["4 wrong on purpose, then honest"] = _steer(4)
    plays["3 honest, leaves, comes back in time"] = _abandon(3, back=True)
    plays["3 honest, leaves for good"] = _abandon(3, back=False)
    return plays


def pass_rates(examinees: int, seed: int,
               plays: dict[str, Strategy] | None = None) -> dict[str, tuple[int, float]]:
    """{strategy: (passes, seconds)} for ``examinees`` at true domain score 60."""
    exam, pool, keys = demo_materi_exam()
    theta = theta_for_score(TRUE_SCORE, pool.bank.a, pool.bank.b, pool.bank.c)
    settings = ProgramSettings.from_json({})
    rates = {}
    for name, play in (plays or strategies()).items():
        start = time.process_time()
        window = MemoryWindow(exam, pool, keys, settings)
        passes = 0
        for number in range(examinees):
            examinee = Examinee(window, number, theta, seed)
            play(examinee)
            passes += examinee.passed()
        rates[name] = (passes, time.process_time() - start)
    return rates


def wilson(passes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a pass rate."""
    p = passes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examinees", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rates = pass_rates(args.examinees, args.seed)
    honest = rates["honest, to the end"][0]
    print(f"{args.examinees} examinees, true domain score {TRUE_SCORE:.0f}, cut {CUT:.0f} "
          "(demo materi exam: 8-15 items, 15 min)")
    print(f"{'strategy':<48} {'passed':>7} {'rate':>7} {'95% interval':>15} {'CPU s':>6}")
    worse = []
    for name, (passes, seconds) in rates.items():
        lo, hi = wilson(passes, args.examinees)
        flag = "" if passes <= honest else "  MORE THAN HONEST"
        if passes > honest:
            worse.append(name)
        print(f"{name:<48} {passes:>7} {passes / args.examinees:>7.3f} "
              f"{lo:>7.3f}-{hi:<7.3f} {seconds:>6.1f}{flag}")
    print("no strategy passes more than answering honestly to the end" if not worse else
          f"{len(worse)} strategies pass more than honest answering")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
