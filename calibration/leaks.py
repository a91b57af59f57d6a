"""Leak and drift monitoring of operational items on live answers.

A leaked item gets easier over time: a share of the participants who meet it after the leak
answer it right whatever their ability.  Every answer is compared with what the model predicts
for that participant from their *other* answers of the same attempt (leave-one-out posterior
predictive probability, so the answer does not explain itself); per item a score test against
the leak alternative is computed over its most recent answers, and the Benjamini-Hochberg
procedure controls the false discovery rate over the whole bank.

**Predictive probability.**  With the attempt's scored answers ``x_k`` to items ``k`` and a
N(0, 1) prior on ``GRID``, the posterior without item ``i`` is
``L_{-i}(t) = phi(t) prod_{k != i} P_k(t)^x_k Q_k(t)^(1 - x_k)`` and

.. math:: p_i = \\frac{\\sum_t P_i(t) L_{-i}(t)}{\\sum_t L_{-i}(t)},

the probability of a right answer under the model; ``E[x_i] = p_i`` when the item behaves.

**The test.**  Over ``n`` answers of an item the standardized residual

.. math:: Z = \\frac{\\sum_j (x_j - p_j)}{\\sqrt{\\sum_j p_j (1 - p_j)}}

is close to N(0, 1) when the item behaves (the answers of different participants are
independent given the model) and grows by ``pi sum (1 - p_j) / sqrt(sum p_j (1 - p_j))`` when a
share ``pi`` of them know the key.  (The efficient score against that alternative weighs each
answer by ``1 / p_j``; on windows of 100 answers its upper tail was far heavier than the
normal's for hard items: intact items reached Z = 4.0, so the plain residual is used.)  The
leak's onset is unknown, so ``Z`` is computed over the last ``w`` answers for each window length
``w`` of :data:`WINDOWS` and over all of them, and the item's one-sided p-value is the
smallest, times the number of windows (Bonferroni).

**Over the bank.**  Benjamini & Hochberg (1995): with the ``m`` p-values sorted, flag the
items up to the largest ``k`` with ``p_(k) <= k q / m``; the expected share of intact items
among the flagged is at most ``q``.  (The anchor drift test of :mod:`calibration.linking`
tests each anchor at a fixed level, about 1 false flag per 100 anchors.)

Reference: Benjamini, Y. & Hochberg, Y. (1995).
Controlling the false discovery rate. *J. R. Statist. Soc. B* 57, 289-300.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr

from cat_engine.grid import GRID

#: Window lengths (most recent answers of an item) over which a leak is looked for.
WINDOWS = (100, 200, 400)
#: The false discovery rate over the bank.
DEFAULT_Q = 0.10
#: An item is tested once it has this many answers (the normal approximation of Z).
MIN_ANSWERS = 30


def predictive_probabilities(a: np.ndarray, b: np.ndarray, c: np.ndarray,
                             attempts: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Leave-one-out posterior predictive probability of each answer (module doc).

    Parameters
    ----------
    a, b, c : (n,) float
        The parameters of the item of each answer (logistic, D = 1).
    attempts : (n,) int
        The attempt of each answer; the answers of one attempt are one examinee's.
    correct : (n,) 0/1

    Returns
    -------
    (n,) float, each in (0, 1).
    """
    n = len(correct)
    if n == 0:
        return np.zeros(0)
    x = np.asarray(correct, dtype=np.float64)[:, None]
    # The 3PL P(t) = c + (1 - c) / (1 + exp(-a (t - b))) of every answer on the grid: (n, Q).
    a, b, c = (np.asarray(v, dtype=np.float64)[:, None] for v in (a, b, c))
    p = np.clip(c + (1 - c) * expit(a * (GRID[None, :] - b)), 1e-12, 1 - 1e-12)
    log_l = x * np.log(p) + (1 - x) * np.log1p(-p)
    _, group = np.unique(np.asarray(attempts), return_inverse=True)
    per_attempt = np.zeros((group.max() + 1, GRID.size))
    np.add.at(per_attempt, group, log_l)
    log_rest = per_attempt[group] - log_l - 0.5 * GRID[None, :] ** 2
    weights = np.exp(log_rest - log_rest.max(axis=1, keepdims=True))
    return (weights * p).sum(axis=1) / weights.sum(axis=1)


@dataclass(frozen=True)
class LeakTest:
    """One item's evidence: its answers, the window with the strongest signal, the share right
    there against the model's prediction, the score statistic and the item's p-value."""

    item: int
    answers: int
    window: int
    observed: float
    expected: float
    z: float
    p_value: float
    flagged: bool = False


def _z(x: np.ndarray, p: np.ndarray) -> float:
    return float((x - p).sum() / np.sqrt((p * (1 - p)).sum()))


def item_test(item: int, correct: np.ndarray, predicted: np.ndarray,
              windows: tuple[int, ...] = WINDOWS) -> LeakTest:
    """The score test of one item over its answers in time order (module doc)."""
    x = np.asarray(correct, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    lengths = sorted({min(w, x.size) for w in windows} | {x.size})
    best = None
    for w in lengths:
        z = _z(x[-w:], p[-w:])
        if best is None or z > best[0]:
            best = (z, w)
    z, w = best
    p_value = min(1.0, float(ndtr(-z)) * len(windows + (0,)))
    return LeakTest(item=item, answers=int(x.size), window=w, observed=float(x[-w:].mean()),
                    expected=float(p[-w:].mean()), z=z, p_value=p_value)


def benjamini_hochberg(p_values: np.ndarray, q: float = DEFAULT_Q) -> np.ndarray:
    """(m,) bool: the discoveries of the Benjamini-Hochberg procedure at rate ``q``."""
    p_values = np.asarray(p_values, dtype=np.float64)
    m = p_values.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p_values, kind="stable")
    below = p_values[order] <= q * np.arange(1, m + 1) / m
    flagged = np.zeros(m, dtype=bool)
    if below.any():
        flagged[order[:np.flatnonzero(below)[-1] + 1]] = True
    return flagged


def leak_scan(items: np.ndarray, attempts: np.ndarray, correct: np.ndarray,
              a: np.ndarray, b: np.ndarray, c: np.ndarray, *, q: float = DEFAULT_Q,
              min_answers: int = MIN_ANSWERS) -> list[LeakTest]:
    """Every item with at least ``min_answers`` answers, tested and flagged under FDR ``q``.

    ``items``, ``attempts``, ``correct``, ``a``, ``b``, ``c`` are aligned per answer, in the
    order the answers were given (the item's parameters with each answer); only the scored
    answers of finished attempts belong here.  Sorted by p-value.
    """
    if not 0 < q < 1:
        raise ValueError("q must be within (0, 1)")
    items = np.asarray(items)
    predicted = predictive_probabilities(a, b, c, attempts, correct)
    correct = np.asarray(correct)
    tests = []
    for item in np.unique(items):
        mine = items == item
        if mine.sum() >= min_answers:
            tests.append(item_test(int(item), correct[mine], predicted[mine]))
    flagged = benjamini_hochberg(np.array([t.p_value for t in tests]), q)
    tests = [LeakTest(**{**t.__dict__, "flagged": bool(f)}) for t, f in
             zip(tests, flagged, strict=True)]
    return sorted(tests, key=lambda t: t.p_value)
