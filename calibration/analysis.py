"""Item analysis: classical statistics, item fit and flags for question writers.

* ``p``: proportion correct among the persons who answered the item.
* ``r_pbis``: point-biserial correlation of the item with the rest score (total minus the item)
  when everyone answered every item; with sparse data (adaptive tests, seeded pretest items)
  raw totals are not comparable across persons, so the criterion is the person's EAP theta.
* ``infit`` / ``outfit``: information-weighted and unweighted mean squares of the residuals
  ``(x - P(theta))`` at the EAP theta (Wright & Masters 1982); expected value about 1.
* ``sx2``, ``sx2_df``, ``sx2_p``: S-X^2 of Orlando & Thissen (2000), comparing observed and
  model-expected proportions correct in each summed-score group, the expected ones computed
  with the Lord-Wingersky recursion; only for complete data (NaN otherwise).  Score groups are
  merged from the low end until both expected counts reach ``SX2_MIN_EXPECTED``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.stats import chi2

from calibration.data import ResponseData
from calibration.mml import irf, quadrature

TOO_EASY_P = 0.95
TOO_HARD_P = 0.05
LOW_R_PBIS = 0.15
LOW_A = 0.4
MISFIT_P = 0.01
INFIT_RANGE = (0.7, 1.3)
SX2_MIN_EXPECTED = 1.0
SX2_MAX_ITEMS = 400
SX2_NODES = 41  # fewer than the EM's 61: the leave-one-out recursion costs items^3 x nodes
N_PARAMETERS = {"rasch": 1, "1pl": 1, "2pl": 2, "3pl": 3}


@dataclass(frozen=True)
class ItemStatistics:
    """Per-item statistics, each an array of shape (n_items,); ``flags`` a list of lists."""

    n: np.ndarray
    p: np.ndarray
    r_pbis: np.ndarray
    infit: np.ndarray
    outfit: np.ndarray
    sx2: np.ndarray
    sx2_df: np.ndarray
    sx2_p: np.ndarray
    flags: list[list[str]]


def constant_items(data: ResponseData) -> np.ndarray:
    """Bool (n_items,): items everyone answered the same way (or nobody answered), which carry
    no information about their parameters."""
    n, right = data.item_counts()
    return (right == 0) | (right == n)


def item_statistics(
    data: ResponseData,
    model: str,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    theta: np.ndarray,
    population: tuple[float, float] = (0.0, 1.0),
) -> ItemStatistics:
    """Classical statistics, fit and flags for every item of ``data``.

    ``theta`` (n_persons,) are the persons' EAP estimates; ``population`` the (mean, SD) of
    theta used for the S-X^2 expectations.
    """
    n, right = data.item_counts()
    p = right / np.maximum(n, 1)
    r_pbis = _point_biserial(data, theta)
    infit, outfit = _mean_squares(data, a, b, c, theta)
    if data.is_complete and 2 < data.n_items <= SX2_MAX_ITEMS:
        sx2, df, sx2_p = _sx2(data, a, b, c, population, N_PARAMETERS[model])
    else:
        sx2 = df = sx2_p = np.full(data.n_items, np.nan)
    misfit = np.where(
        np.isnan(sx2_p), (infit < INFIT_RANGE[0]) | (infit > INFIT_RANGE[1]), sx2_p < MISFIT_P
    )
    names = ("too_easy", "too_hard", "low_discrimination", "misfit")
    flags = [
        [name for name, on in zip(names, row, strict=True) if on]
        for row in zip(
            p > TOO_EASY_P,
            p < TOO_HARD_P,
            (r_pbis < LOW_R_PBIS) | ((a < LOW_A) if model in ("2pl", "3pl") else False),
            misfit,
            strict=True,
        )
    ]
    return ItemStatistics(n, p, r_pbis, infit, outfit, sx2, df, sx2_p, flags)


def _point_biserial(data: ResponseData, theta: np.ndarray) -> np.ndarray:
    """Correlation of x_j with the criterion over the persons who answered j (sums via
    sparse products; for the rest score y_i = T_i - x_ij the sums are corrected exactly)."""
    answered = data.answered()
    n = np.asarray(answered.sum(axis=0)).ravel()
    sx = np.asarray(data.correct.sum(axis=0)).ravel()
    if data.is_complete:
        y = np.asarray(data.correct.sum(axis=1)).ravel()
    else:
        y = theta
    sy = np.asarray(answered.T @ y).ravel()
    sxy = np.asarray(data.correct.T @ y).ravel()
    syy = np.asarray(answered.T @ y**2).ravel()
    if data.is_complete:
        sy, sxy, syy = sy - sx, sxy - sx, syy - 2 * sxy + sx
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (n * sxy - sx * sy) / np.sqrt((n * sx - sx**2) * (n * syy - sy**2))
    return r


def _mean_squares(data: ResponseData, a, b, c, theta):
    coo = sp.coo_matrix(data.answered())
    rows, cols = coo.row, coo.col
    x = np.asarray(data.correct[rows, cols]).ravel()
    p = c[cols] + (1 - c[cols]) / (1 + np.exp(-a[cols] * (theta[rows] - b[cols])))
    var = p * (1 - p)
    sq = (x - p) ** 2
    j = data.n_items
    with np.errstate(invalid="ignore", divide="ignore"):
        infit = np.bincount(cols, sq, j) / np.bincount(cols, var, j)
        outfit = np.bincount(cols, sq / var, j) / np.bincount(cols, minlength=j)
    return infit, outfit


def summed_score_likelihoods(p: np.ndarray) -> np.ndarray:
    """Lord-Wingersky recursion: L[k, q] = P(summed score k | theta_q) for items with
    probabilities p (items, nodes); shape (items + 1, nodes)."""
    dist = np.zeros((p.shape[0] + 1, p.shape[1]))
    dist[0] = 1.0
    for m in range(p.shape[0]):
        dist[1:m + 2] = dist[1:m + 2] * (1 - p[m]) + dist[0:m + 1] * p[m]
        dist[0] *= 1 - p[m]
    return dist


def _sx2(data: ResponseData, a, b, c, population, n_params):
    """S-X^2 for each item (complete data)."""
    nodes, weights = quadrature(SX2_NODES, *population)
    p, _ = irf(a, -a * b, c, nodes)
    n_items = p.shape[0]
    # leave-one-out summed-score likelihoods for every item at once: (items, items, nodes)
    rest = np.zeros((n_items, n_items + 1, len(nodes)))
    rest[:, 0] = 1.0
    for m in range(n_items):
        keep = rest[m].copy()
        rest[:, 1:m + 2] = rest[:, 1:m + 2] * (1 - p[m]) + rest[:, 0:m + 1] * p[m]
        rest[:, 0] *= 1 - p[m]
        rest[m] = keep
    full = summed_score_likelihoods(p) @ weights  # (items + 1,)
    # expected P(correct on j | total k) for k = 1 .. n_items - 1
    expected = np.einsum("jkq,jq,q->jk", rest[:, : n_items - 1], p, weights)
    expected = expected / full[None, 1:n_items]
    x = data.to_matrix()
    total = x.sum(axis=1).astype(int)
    group_n = np.bincount(total, minlength=n_items + 1)[1:n_items].astype(float)
    observed = np.stack(
        [np.bincount(total, x[:, j], minlength=n_items + 1)[1:n_items] for j in range(n_items)]
    )
    stat = np.full(n_items, np.nan)
    df = np.full(n_items, np.nan)
    for j in range(n_items):
        groups = _collapse(group_n, observed[j], group_n * expected[j])
        if len(groups) - n_params < 1:
            continue
        nn, obs, exp = groups.T
        stat[j] = np.sum((obs - exp) ** 2 / (exp * (1 - exp / nn)))
        df[j] = len(groups) - n_params
    return stat, df, chi2.sf(stat, df)


def _collapse(group_n, observed, expected):
    """Merge adjacent score groups until each has expected correct and incorrect counts of at
    least SX2_MIN_EXPECTED; a short remainder joins the last group.  Rows (n, observed, expected).
    """
    out = []
    acc = np.zeros(3)
    for row in zip(group_n, observed, expected, strict=True):
        acc += row
        if acc[2] >= SX2_MIN_EXPECTED and acc[0] - acc[2] >= SX2_MIN_EXPECTED:
            out.append(acc)
            acc = np.zeros(3)
    if acc[0] > 0:
        if out:
            out[-1] = out[-1] + acc
        else:
            out.append(acc)
    return np.array(out).reshape(-1, 3)
