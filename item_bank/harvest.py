"""Item-harvest simulation: how much does a ring of colluders learn about later tests?

Twenty participants of one exam window (the *colluders*) pool every item they were shown and
pass the pool on.  For each later participant of the same window we measure the share of their
items found in the pool.  Selection is the policy's own rule (:mod:`item_bank.selection`:
randomesque MFI with content balance under the exposure ceiling for CAT, the LOFT assembler
for LOFT), with EAP scoring and the policy's stopping rule, run in memory.

The colluders pool at most ``20 x length`` items, so for a bank of ``n`` items the share for
a later participant whose items were spread uniformly would be about ``20 L / n``; adaptive
selection prefers informative items, so the measured share is the figure to trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cat_engine.estimation import Estimate, estimate
from cat_engine.irt import ItemBank
from cat_engine.scoring import theta_for_score
from cat_engine.stopping import StoppingRule

from .models import ProgramSettings
from .selection import content_shares, loft_form, next_cat_item

COLLUDERS = 20


@dataclass(frozen=True)
class HarvestResult:
    bank_size: int
    assembly: str
    colluders: int
    later: int
    mean_length: float
    pooled_items: int
    share_mean: float  # mean share of a later participant's items found in the pool
    share_max: float
    max_exposure: float  # max over items of (attempts shown the item) / (attempts in window)
    mean_overlap: float  # mean pairwise overlap rate of the window's tests


def synthetic_bank(n_items: int, rng: np.random.Generator, n_tags: int = 4) -> ItemBank:
    """2PL items, a ~ U(0.6, 2.0), b ~ N(0, 1), ``n_tags`` equal content tags."""
    return ItemBank(ids=np.array([f"i{i}" for i in range(n_items)]),
                    a=rng.uniform(0.6, 2.0, n_items), b=rng.normal(0.0, 1.0, n_items),
                    c=np.zeros(n_items),
                    content=np.array([f"T{i % n_tags}" for i in range(n_items)]))


def simulate_test(bank: ItemBank, theta_true: float, *, counts: np.ndarray, attempts: int,
                  assembly: str, settings: ProgramSettings, cut_score: float,
                  rng: np.random.Generator, theta_cut: float | None = None) -> np.ndarray:
    """One attempt by an examinee of ability ``theta_true``; returns the item indices."""
    n = len(bank)
    base = np.zeros(n, dtype=bool)
    shares = content_shares(bank)
    if assembly == "loft":
        return loft_form(bank, settings.max_items, base=base, counts=counts, attempts=attempts,
                         max_exposure=settings.max_exposure, slack=settings.exposure_slack,
                         content_shares=shares, rng=rng)
    if theta_cut is None:
        theta_cut = theta_for_score(cut_score, bank.a, bank.b, bank.c)
    rule = StoppingRule(min_items=settings.min_items, max_items=settings.max_items,
                        se_target=settings.se_target, theta_cut=theta_cut)
    given: list[int] = []
    answers: list[int] = []
    tag_counts: dict[str, int] = {}
    current = Estimate(0.0, 1.0)
    while True:
        index = next_cat_item(bank, current.theta, base=base, counts=counts, attempts=attempts,
                              max_exposure=settings.max_exposure, k=settings.randomesque_k,
                              slack=settings.exposure_slack,
                              content_shares=shares, content_counts=tag_counts, rng=rng)
        base[index] = True
        given.append(index)
        tag = str(bank.content[index])
        tag_counts[tag] = tag_counts.get(tag, 0) + 1
        p = 1.0 / (1.0 + np.exp(-bank.a[index] * (theta_true - bank.b[index])))
        answers.append(int(rng.random() < p))
        idx = np.array(given)
        current = estimate(np.array(answers), bank.a[idx], bank.b[idx], bank.c[idx])
        if rule.reason(len(given), current) is not None or base.all():
            return idx


def simulate_window(bank: ItemBank, *, assembly: str, later: int = 30,
                    settings: ProgramSettings | None = None, cut_score: float = 70.0,
                    seed: int = 0) -> HarvestResult:
    """20 colluders, then ``later`` participants, all in one exam window (thetas ~ N(0, 1))."""
    settings = settings or ProgramSettings()
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(bank), dtype=np.int64)
    theta_cut = None if assembly == "loft" else theta_for_score(cut_score, bank.a, bank.b,
                                                                bank.c)
    tests: list[np.ndarray] = []
    for number in range(1, COLLUDERS + later + 1):
        items = simulate_test(bank, float(rng.normal()), counts=counts, attempts=number,
                              assembly=assembly, settings=settings, cut_score=cut_score,
                              rng=rng, theta_cut=theta_cut)
        counts[items] += 1
        tests.append(items)
    pool = np.zeros(len(bank), dtype=bool)
    for items in tests[:COLLUDERS]:
        pool[items] = True
    shares = np.array([pool[items].mean() for items in tests[COLLUDERS:]])
    return HarvestResult(
        bank_size=len(bank), assembly=assembly, colluders=COLLUDERS, later=later,
        mean_length=float(np.mean([t.size for t in tests])), pooled_items=int(pool.sum()),
        share_mean=float(shares.mean()), share_max=float(shares.max()),
        max_exposure=float(counts.max() / len(tests)),
        mean_overlap=overlap_rate(tests, len(bank)))


def overlap_rate(tests: list[np.ndarray], n_items: int) -> float:
    """Mean over pairs of participants of |A and B| / mean test length.

    Sum over pairs of |A and B| equals sum over items of C(count_i, 2), so no pair loop is
    needed: rate = sum_i count_i (count_i - 1) / (N (N - 1) mean_length).
    """
    n = len(tests)
    if n < 2:
        return 0.0
    counts = np.zeros(n_items, dtype=np.int64)
    for items in tests:
        counts[items] += 1
    mean_length = float(np.mean([t.size for t in tests]))
    return float((counts * (counts - 1)).sum() / (n * (n - 1) * mean_length))
