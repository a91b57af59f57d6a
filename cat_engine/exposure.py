"""Exposure and overlap metrics, and Sympson-Hetter exposure parameters.

For ``N`` tests (lists of bank indices) over a bank of ``n`` items, with ``n_i`` the number of
tests item ``i`` appeared in and ``L`` the mean test length:

* exposure rate ``r_i = n_i / N``; ``max_exposure = max_i r_i``;
* mean overlap: the mean, over all ``N (N - 1) / 2`` pairs of examinees, of the number of items
  the two tests share, divided by the mean test length:

  .. math:: \\bar O = \\frac{\\sum_i n_i (n_i - 1)}{N (N - 1) L}

  (Chen, Ankenmann & Spray, 2003).  For fixed-length tests it is exactly the expected share of
  items two random examinees have in common; 0 means disjoint tests, 1 identical tests.  The
  pair sum is computed from the counts, in ``O(n)``, not over pairs.

References
----------
Chen, S.-Y., Ankenmann, R. D. & Spray, J. A. (2003). The relationship between item exposure and
test overlap in computerized adaptive testing. *Journal of Educational Measurement*, 40(2).
Sympson, J. B. & Hetter, R. D. (1985). Controlling item-exposure rates in computerized adaptive
testing. *Proceedings of the 27th annual meeting of the Military Testing Association*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["exposure_counts", "exposure_rates", "max_exposure", "mean_overlap",
           "calibrate_sympson_hetter"]


def exposure_counts(tests: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """``(n_items,)`` number of tests each item appeared in."""
    if not tests:
        raise ValueError("no tests given")
    flat = np.concatenate([np.asarray(t, dtype=np.intp) for t in tests])
    if flat.size and (flat.min() < 0 or flat.max() >= n_items):
        raise ValueError("a test holds an item index outside the bank")
    return np.bincount(flat, minlength=n_items)


def exposure_rates(tests: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """``(n_items,)`` share of tests each item appeared in."""
    return exposure_counts(tests, n_items) / len(tests)


def max_exposure(tests: Sequence[np.ndarray], n_items: int) -> float:
    """The highest exposure rate of any item."""
    return float(exposure_rates(tests, n_items).max())


def mean_overlap(tests: Sequence[np.ndarray], n_items: int) -> float:
    """Mean share of items two random examinees have in common (see module doc)."""
    if len(tests) < 2:
        raise ValueError("mean overlap needs at least two tests")
    counts = exposure_counts(tests, n_items).astype(np.float64)
    n = len(tests)
    mean_length = np.mean([len(t) for t in tests])
    return float((counts * (counts - 1)).sum() / (n * (n - 1) * mean_length))


def calibrate_sympson_hetter(
    bank,
    *,
    r_max: float = 0.25,
    n_examinees: int = 1000,
    iterations: int = 8,
    rng: np.random.Generator,
    **simulate_kwargs,
) -> np.ndarray:
    """Sympson-Hetter exposure parameters ``K`` (``(n,)`` in (0, 1]) by iterated simulation.

    Each round simulates ``n_examinees`` with ``theta ~ N(0, 1)`` using selection
    ``"sympson-hetter"`` and the current ``K``.  The probability that item ``i`` is selected
    (comes up for its lottery) is estimated as ``P(S_i) = P(A_i) / K_i`` (administration rate
    over the current parameter, since ``P(A_i) = P(S_i) K_i``), and the update is
    ``K_i = 1`` if ``P(S_i) <= r_max`` else ``r_max / P(S_i)``.  ``simulate_kwargs`` go to
    :func:`cat_engine.simulation.simulate` (e.g. ``max_items``, ``estimator``).
    """
    # Imported here: simulation uses this module's metrics, so a top-level import would cycle.
    from .simulation import simulate

    if not (0 < r_max <= 1):
        raise ValueError(f"r_max must be in (0, 1] (got {r_max})")
    if iterations < 1 or n_examinees < 1:
        raise ValueError("iterations and n_examinees must be >= 1")
    k = np.ones(len(bank))
    for _ in range(iterations):
        result = simulate(bank, rng.standard_normal(n_examinees), rng=rng,
                          selector="sympson-hetter", sh_params=k, **simulate_kwargs)
        selected = result.exposure / k
        k = np.where(selected <= r_max, 1.0, r_max / np.maximum(selected, r_max))
    return k
