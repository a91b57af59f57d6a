"""Domain score on 0-100 and its inverse (SPEC.md, "Scores on the 0-100 scale").

The domain score at ability ``theta`` is the expected percentage correct over the exam's
reference pool (items ``a, b, c``, each ``(n,)``):

.. math:: S(\\theta) = \\frac{100}{n} \\sum_i P_i(\\theta)

It increases strictly with ``theta`` from ``100 * mean(c)`` to 100, so a cut score ``s`` maps to
the unique ``theta_cut`` with ``S(theta_cut) = s`` (found by Brent's method).  The pass decision
``score >= cut`` is the same as ``theta >= theta_cut``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .irt import _probability, check_params

__all__ = ["domain_score", "theta_for_score", "SCORE_THETA_RANGE"]

#: The range searched for theta_cut; cut scores needing an ability outside it are refused.
SCORE_THETA_RANGE = (-10.0, 10.0)


def domain_score(theta, a, b, c) -> float:
    """``100 * mean_i P_i(theta)`` over the reference pool ``a, b, c``; a float in [0, 100]."""
    a, b, c = check_params(a, b, c)
    if a.size == 0:
        raise ValueError("the reference pool is empty")
    theta = float(theta)
    if np.isnan(theta):
        raise ValueError("theta is NaN")
    return float(100.0 * _probability(theta, a, b, c).mean())


def theta_for_score(score, a, b, c) -> float:
    """The ability whose domain score equals ``score``: ``theta_cut`` for a cut score.

    Raises
    ------
    ValueError
        If ``score`` is outside (0, 100) or not reachable for ``theta`` in ``SCORE_THETA_RANGE``
        (e.g. below the guessing floor ``100 * mean(c)``).
    """
    score = float(score)
    if not (0.0 < score < 100.0):
        raise ValueError(f"cut score must be strictly between 0 and 100 (got {score})")
    lo, hi = SCORE_THETA_RANGE
    s_lo, s_hi = domain_score(lo, a, b, c), domain_score(hi, a, b, c)
    if not (s_lo < score < s_hi):
        raise ValueError(
            f"cut score {score} is not reachable: the domain score ranges from {s_lo:.2f} to "
            f"{s_hi:.2f} for theta in [{lo}, {hi}]"
        )
    a, b, c = check_params(a, b, c)
    return float(
        optimize.brentq(
            lambda t: 100.0 * _probability(t, a, b, c).mean() - score, lo, hi, xtol=1e-10
        )
    )
