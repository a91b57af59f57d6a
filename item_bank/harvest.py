"""Item-harvest simulation: how much does a ring of colluders learn about later tests?

Twenty participants of one exam window (the *colluders*) pool every item they were shown and
pass the pool on.  For each later participant of the same window we measure the share of their
items found in the pool.  The tests are the engine's simulation (:func:`cat_engine.simulation.
simulate`) with the live exams' own configuration (:func:`item_bank.policy.rules.live_config`:
randomesque maximum information with content balance under the exposure ceiling and
least-exposed-first, EAP, the stopping rule; LOFT forms by ``assemble_form``), so the figures
are those of what participants get.

The colluders pool at most ``20 x L`` items, so for a bank of ``n`` items the share for
a later participant whose items were spread uniformly would be about ``20 L / n``; adaptive
selection prefers informative items, so the measured share is the figure to trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cat_engine.exposure import mean_overlap
from cat_engine.irt import ItemBank
from cat_engine.scoring import theta_for_score
from cat_engine.simulation import simulate

from .models import ProgramSettings
from .policy.rules import ExamRules, live_config

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


def simulate_window(bank: ItemBank, *, assembly: str, later: int = 30,
                    settings: ProgramSettings | None = None, cut_score: float = 70.0,
                    seed: int = 0) -> HarvestResult:
    """20 colluders, then ``later`` participants, all in one exam window (thetas ~ N(0, 1))."""
    settings = settings or ProgramSettings()
    rules = ExamRules(cut_score=cut_score, max_attempts=1, duration_s=settings.exam_duration_s,
                      waiting_period_s=0, min_items=settings.min_items,
                      max_items=settings.max_items, se_target=settings.se_target)
    config = live_config(rules, settings, bank,
                         None if assembly == "loft" else theta_for_score(cut_score, bank.a,
                                                                         bank.b, bank.c))
    rng = np.random.default_rng(seed)
    result = simulate(bank, rng.standard_normal(COLLUDERS + later), config=config, rng=rng,
                      mode=assembly)
    tests = result.tests
    pool = np.zeros(len(bank), dtype=bool)
    for items in tests[:COLLUDERS]:
        pool[items] = True
    shares = np.array([pool[items].mean() for items in tests[COLLUDERS:]])
    counts = np.bincount(np.concatenate(tests), minlength=len(bank))
    return HarvestResult(
        bank_size=len(bank), assembly=assembly, colluders=COLLUDERS, later=later,
        mean_length=float(np.mean([t.size for t in tests])), pooled_items=int(pool.sum()),
        share_mean=float(shares.mean()), share_max=float(shares.max()),
        max_exposure=float(counts.max() / len(tests)),
        mean_overlap=mean_overlap(tests, len(bank)))
