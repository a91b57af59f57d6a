"""Ability estimation: EAP (default), MAP, MLE and WLE, each with a standard error.

All estimators work on the administered items' parameters ``a, b, c`` (each ``(k,)``) and the
0/1 responses ``u`` (``(k,)``).  Abilities are bounded to ``[THETA_MIN, THETA_MAX]``
(:mod:`cat_engine.grid`) so that every response pattern, all-correct and all-wrong included,
has a defined answer.

* **EAP** (Bock & Mislevy, 1982): posterior mean and SD under a normal prior, by quadrature on
  ``GRID`` (121 equally spaced points on [-6, 6], :mod:`cat_engine.grid`):
  ``theta = sum_q x_q L(x_q) phi(x_q) / sum_q L(x_q) phi(x_q)``.
* **MAP**: the mode of ``log L(theta) + log phi(theta)``; ``SE = 1 / sqrt(I(theta) + 1/sd^2)``.
* **MLE**: the maximum of ``log L(theta)`` on the bounds (a bound for all-correct / all-wrong);
  ``SE = 1 / sqrt(I(theta))``.
* **WLE** (Warm, 1989): the root of the bias-corrected score equation
  ``S(theta) + J(theta) / (2 I(theta)) = 0`` with ``S = sum P'_i (u_i - P_i) / (P_i Q_i)``,
  ``I = sum P'_i^2 / (P_i Q_i)`` and ``J = sum P'_i P''_i / (P_i Q_i)``;
  ``SE = 1 / sqrt(I(theta))``.

The modes and roots are found robustly even for multimodal 3PL likelihoods: the function is
evaluated on ``GRID`` first (one ``(Q, k)`` array operation), then refined by Brent's method
inside the bracketing grid cell.

References
----------
Bock, R. D. & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a microcomputer
environment. *Applied Psychological Measurement*, 6(4), 431-444.
Warm, T. A. (1989). Weighted likelihood estimation of ability in item response theory.
*Psychometrika*, 54(3), 427-450.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .grid import (
    GRID,
    THETA_MAX,
    THETA_MIN,
    Estimate,
    _log_prior,
    check_prior,
    eap_from_log_likelihood,
)
from .irt import (
    _information,
    _log_likelihood,
    _probability,
    check_params,
    check_responses,
)

__all__ = ["estimate", "METHODS"]

METHODS = ("eap", "map", "mle", "wle")
_XATOL = 1e-7


def _maximize(objective, values_on_grid: np.ndarray) -> float:
    """Maximize a scalar function: best grid point, then bounded Brent in its two cells."""
    q = int(np.argmax(values_on_grid))
    lo, hi = GRID[max(q - 1, 0)], GRID[min(q + 1, GRID.size - 1)]
    res = optimize.minimize_scalar(
        lambda t: -objective(t), bounds=(lo, hi), method="bounded", options={"xatol": _XATOL}
    )
    # Brent never evaluates the bounds themselves; keep the grid point when it is better.
    best = float(res.x)
    return best if -res.fun >= values_on_grid[q] else float(GRID[q])


def _derivatives(theta, a, b, c):
    """P, P' and P'' of the 3PL; ``P' = a (P - c)(1 - P) / (1 - c)``,
    ``P'' = a P' (1 + c - 2P) / (1 - c)``."""
    p = _probability(theta, a, b, c)
    d1 = a * (p - c) * (1.0 - p) / (1.0 - c)
    d2 = a * d1 * (1.0 + c - 2.0 * p) / (1.0 - c)
    return p, d1, d2


def _warm_score(theta, u, a, b, c):
    """Warm's corrected score ``S + J / (2 I)``, summed over the last axis."""
    p, d1, d2 = _derivatives(theta, a, b, c)
    pq = p * (1.0 - p)
    s = (d1 * (u - p) / pq).sum(axis=-1)
    info = (d1 * d1 / pq).sum(axis=-1)
    j = (d1 * d2 / pq).sum(axis=-1)
    return s + j / (2.0 * info)


def _wle(u, a, b, c) -> float:
    """Root of Warm's equation; among several downward crossings, the most likely one."""
    g = _warm_score(GRID[:, None], u, a, b, c)
    down = np.flatnonzero((g[:-1] > 0) & (g[1:] <= 0))
    if down.size == 0:
        # No crossing inside the bounds: the corrected score has one sign throughout.
        return THETA_MAX if g[-1] > 0 else THETA_MIN
    roots = []
    for q in down:  # a handful of crossings at most (usually one)
        if g[q + 1] == 0:
            roots.append(float(GRID[q + 1]))
        else:
            roots.append(
                optimize.brentq(
                    lambda t: float(_warm_score(t, u, a, b, c)), GRID[q], GRID[q + 1],
                    xtol=_XATOL,
                )
            )
    roots = np.array(roots)
    return float(roots[np.argmax(_log_likelihood(roots[:, None], u, a, b, c))])


def estimate(
    responses, a, b, c, method: str = "eap", *, prior_mean: float = 0.0, prior_sd: float = 1.0
) -> Estimate:
    """Estimate ability from 0/1 responses to the items ``a, b, c``.

    Parameters
    ----------
    responses : (k,) array of 0/1
    a, b, c : (k,) item parameters of the administered items
    method : ``"eap"`` (default), ``"map"``, ``"mle"`` or ``"wle"``
    prior_mean, prior_sd : the normal prior of EAP and MAP

    Returns
    -------
    Estimate
        ``theta`` within ``[THETA_MIN, THETA_MAX]`` and its standard error.

    Raises
    ------
    ValueError
        Unknown method, invalid item parameters, responses other than 0/1, mismatched
        lengths, no responses for MLE/WLE, or an invalid prior.
    """
    if method not in METHODS:
        raise ValueError(f"unknown estimation method {method!r} (choose from {', '.join(METHODS)})")
    a, b, c = check_params(a, b, c)
    u = check_responses(responses, a.size)
    check_prior(prior_mean, prior_sd)
    if method == "eap":
        return eap_from_log_likelihood(_log_likelihood(GRID[:, None], u, a, b, c), prior_mean,
                                       prior_sd)
    if u.size == 0 and method in ("mle", "wle"):
        raise ValueError(f"{method.upper()} needs at least one response")

    def info_at(t: float) -> float:
        return float(_information(t, a, b, c).sum())

    if method == "wle":
        theta = _wle(u, a, b, c)
        return Estimate(theta=theta, se=float(1.0 / np.sqrt(info_at(theta))))
    ll_grid = _log_likelihood(GRID[:, None], u, a, b, c)
    if method == "mle":
        theta = _maximize(lambda t: float(_log_likelihood(t, u, a, b, c)), ll_grid)
        return Estimate(theta=theta, se=float(1.0 / np.sqrt(info_at(theta))))
    theta = _maximize(
        lambda t: float(_log_likelihood(t, u, a, b, c)) + _log_prior(t, prior_mean, prior_sd),
        ll_grid + _log_prior(GRID, prior_mean, prior_sd),
    )
    return Estimate(theta=theta, se=float(1.0 / np.sqrt(info_at(theta) + prior_sd**-2)))
