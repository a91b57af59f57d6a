r"""Exposure parameters found by simulating the engine: Sympson-Hetter ``K`` and exposure prices.

Both calibrators run :func:`cat_engine.simulation.simulate`, i.e. the very CAT step
(:func:`cat_engine.assembly.record_response`, :func:`cat_engine.assembly.next_item`) that live
exams run, on simulated examinees with ``theta ~ N(0, 1)``, and adjust per-item parameters from
the exposure rates they observe.

**Sympson-Hetter** (Sympson & Hetter, 1985).  Item ``i`` comes up for selection with
probability ``P(S_i)`` and, once up, is given with probability ``K_i``, so its administration
rate is ``P(A_i) = P(S_i) K_i``.  Each round estimates ``P(S_i) = P(A_i) / K_i`` and sets
``K_i = 1`` if ``P(S_i) <= r_max`` else ``r_max / P(S_i)``.

**Exposure prices** (priced maximum information).  The running cap is first come, first
served: an item under its quota goes to whoever arrives, even an examinee for whom it is only
one of many good items, so the examinees for whom it is by far the best find it capped.
Choosing the items of ``N`` tests of length ``L`` to maximize the total information under the
quotas,

.. math:: \max \sum_{j, i} x_{ji} I_i(\theta_j) \quad \text{s.t.} \quad
          \sum_i x_{ji} = L, \quad \frac{1}{N} \sum_j x_{ji} \le r, \quad x \in [0, 1],

is a transportation problem; its Lagrangian dual puts a price ``lambda_i >= 0`` on each item's
quota, and given the prices every examinee's best choice is simply the items of highest priced
information ``I_i(theta) - lambda_i`` (Everett, 1963; Fisher, 1981).  Selection by the priced
information (``SelectionRule(prices=...)``) therefore steers each item to the examinees who
gain most from it.  :func:`calibrate_exposure_prices` finds the prices by simulation: each
round simulates the CATs with the current prices and neither the cap nor the least-exposed rule
(with them the rates are bounded and the steps too small), and takes a projected subgradient
step on the dual,

.. math:: \lambda_i \leftarrow \max(0, \lambda_i + \eta_t (\mathrm{rate}_i - r)),
          \quad \eta_t = \eta / \sqrt{t + 1};

the prices returned are the mean of the second half of the rounds (averaging damps the
oscillation of the subgradient method; Nedic & Ozdaglar, 2009).  The running cap stays on in
operation as the hard guarantee; the prices only decide who gets an item while it is under its
quota.  Measured on 1,000-item 3PL banks (docs/cat_engine.md), prices with target
``r = r_max`` and a flat cap cut the cap's SE cost against plain maximum information.

References
----------
Everett, H. (1963). Generalized Lagrange multiplier method for solving problems of optimum
allocation of resources. *Operations Research*, 11(3), 399-417.
Fisher, M. L. (1981). The Lagrangian relaxation method for solving integer programming
problems. *Management Science*, 27(1), 1-18.
Nedic, A. & Ozdaglar, A. (2009). Approximate primal solutions and rate analysis for dual
subgradient methods. *SIAM Journal on Optimization*, 19(4), 1757-1780.
Sympson, J. B. & Hetter, R. D. (1985). Controlling item-exposure rates in computerized adaptive
testing. *Proceedings of the 27th annual meeting of the Military Testing Association*.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .config import CatConfig
from .irt import ItemBank
from .simulation import simulate

__all__ = ["calibrate_sympson_hetter", "calibrate_exposure_prices", "PRICE_EXAMINEES"]

#: Examinees per price round.  Each round is ``simulate`` itself, one examinee at a time (about
#: 0.9 s a round for 30-item CATs on a 1,000-item bank); 250 gave the same precision as 800 on
#: the five banks of docs/cat_engine.md (mean SE ratio to MFI 1.057 both) in a third of the time.
PRICE_EXAMINEES = 250


def calibrate_sympson_hetter(
    bank: ItemBank,
    config: CatConfig,
    *,
    r_max: float = 0.25,
    n_examinees: int = 1000,
    iterations: int = 8,
    rng: np.random.Generator,
    mode: str = "cat",
    target_information=None,
    tolerance: float = 0.10,
) -> np.ndarray:
    """Sympson-Hetter exposure parameters ``K`` (``(n,)`` in (0, 1]) by iterated simulation.

    Each round simulates ``n_examinees`` with ``theta ~ N(0, 1)`` taking the tests of
    ``config`` (``mode``, ``target_information`` and ``tolerance`` as in
    :func:`cat_engine.simulation.simulate`) with selection method ``"sympson-hetter"`` and the
    current ``K`` (the rest of ``config.selection``, e.g. a running cap, as given), then updates
    ``K`` (module doc).
    """
    if not (0 < r_max <= 1):
        raise ValueError(f"r_max must be in (0, 1] (got {r_max})")
    if iterations < 1 or n_examinees < 1:
        raise ValueError("iterations and n_examinees must be >= 1")
    k = np.ones(len(bank))
    for _ in range(iterations):
        rule = dataclasses.replace(config.selection, method="sympson-hetter", sh_params=k)
        result = simulate(bank, rng.standard_normal(n_examinees),
                          config=dataclasses.replace(config, selection=rule), rng=rng,
                          mode=mode, target_information=target_information, tolerance=tolerance)
        selected = result.exposure / k
        k = np.where(selected <= r_max, 1.0, r_max / np.maximum(selected, r_max))
    return k


def _dual_prices(
    rates_of: Callable[[np.ndarray], np.ndarray], n_items: int, target: float, rounds: int,
    step: float, progress: Callable[[int, np.ndarray, np.ndarray], None] | None,
) -> np.ndarray:
    """Projected dual subgradient on the quotas ``rate_i <= target`` (see module doc).

    ``rates_of(prices)`` returns the ``(n,)`` exposure rates of the allocation the prices
    induce; the prices returned are the mean over the second half of the rounds.
    """
    lam = np.zeros(n_items)
    total = np.zeros(n_items)
    first_kept = rounds // 2
    for t in range(rounds):
        rates = rates_of(lam)
        lam = np.maximum(0.0, lam + step / np.sqrt(t + 1) * (rates - target))
        if t >= first_kept:
            total += lam
        if progress is not None:
            progress(t, rates, lam)
    return total / (rounds - first_kept)


def calibrate_exposure_prices(
    bank: ItemBank,
    config: CatConfig,
    *,
    target: float = 0.25,
    rounds: int = 16,
    n_examinees: int = PRICE_EXAMINEES,
    step: float = 1.0,
    rng: np.random.Generator,
    progress: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Exposure prices ``lambda`` (``(n,)``, ``>= 0``) by simulation (see module doc).

    Parameters
    ----------
    bank : ItemBank
    config : the CAT the prices are for (stopping rule, selection method and ``k``, content
        targets, estimator, prior); each round simulates it with the current prices and
        without the running cap and the least-exposed rule
    target : quota ``r`` on each item's exposure rate in (0, 1]; with the running cap in
        operation, ``r = r_max`` measured best (the cap catches what the prices let through)
    rounds : simulation rounds; prices are averaged over the second half
    n_examinees : examinees per round, ``theta ~ N(0, 1)`` (:data:`PRICE_EXAMINEES`)
    step : ``eta``, the dual step in information units per unit of rate (``eta / sqrt(t + 1)``
        at round ``t``)
    rng : numpy Generator
    progress : called as ``progress(round, rates, prices)`` after each round (e.g. to report on
        stderr)

    Returns
    -------
    np.ndarray
        ``(n,)`` prices for ``SelectionRule(prices=...)``.
    """
    if not (0 < target <= 1):
        raise ValueError(f"the price target rate must be in (0, 1] (got {target})")
    if rounds < 1 or n_examinees < 1:
        raise ValueError("rounds and n_examinees must be >= 1")
    if not (step > 0 and np.isfinite(step)):
        raise ValueError(f"the price step must be a positive number (got {step})")
    free = dataclasses.replace(config.selection, max_exposure=1.0, cap_ramp=None,
                               exposure_slack=None)

    def rates_of(prices: np.ndarray) -> np.ndarray:
        priced = dataclasses.replace(config, selection=dataclasses.replace(free, prices=prices))
        return simulate(bank, rng.standard_normal(n_examinees), config=priced, rng=rng).exposure

    return _dual_prices(rates_of, len(bank), target, rounds, step, progress)
