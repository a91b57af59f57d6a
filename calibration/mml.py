"""Marginal maximum likelihood by EM (Bock & Aitkin, 1981) for dichotomous IRT models.

Model, for item j and ability theta ~ N(mu, sigma^2) (mu = 0, sigma = 1 unless estimated)::

    P_j(theta) = c_j + (1 - c_j) / (1 + exp(-(a_j theta + d_j))),   b_j = -d_j / a_j

Models: ``rasch`` (a_j = 1, c_j = 0), ``1pl`` (one common a, c_j = 0), ``2pl`` (c_j = 0),
``3pl``.  The integral over theta uses ``n_quad`` equally spaced nodes on [-6, 6]; the default
N_QUAD = 61 (spacing 0.2) makes the quadrature error negligible: with 41 nodes (spacing 0.3)
the plain-ML 2PL estimates of the benchmark moved by enough to raise RMSE(b) from 0.0392 to 0.0413,
while 81 or 121 nodes, or 41 on [-4.5, 4.5], give the same estimates as 61.

E-step, with R1 / R0 the (persons x items) indicators of right / wrong answers (sparse CSR or
dense) and L the (persons x nodes) log-likelihood::

    L = R1 @ log P + R0 @ log(1 - P) + log w          (P: items x nodes)
    W = softmax_rows(L)                                (posterior weight of each node)
    r = R1.T @ W,   n = (R1 + R0).T @ W               (expected right / answered per node)

so every product costs O(answers x nodes): a missing answer is skipped, never counted wrong.
M-step: Fisher scoring on each item's expected complete-data log-likelihood
``sum_q r_jq log P_jq + (n_jq - r_jq) log(1 - P_jq)`` (+ log priors, so the estimates are
posterior modes when priors are set; the 2PL/3PL default has a weak floating prior on log a,
see :func:`default_priors`), vectorised over items
(batched 3x3 solves; a Schur complement for the common slope of the 1PL), each item's step
shortened as a whole to stay within MAX_STEP and the bounds (:func:`_limit_step`), with step
halving and an active set for parameters on a bound.  The EM map is accelerated with SQUAREM
(Varadhan & Roland 2008); ``iterations`` counts EM cycles (E-step + M-step).

Standard errors come from the cross-product (XPD) estimate of the information of the marginal
likelihood, ``I = sum_i s_i s_i^T`` with ``s_i`` the gradient of person i's marginal
log-likelihood (Bock & Aitkin 1981; Cai 2008), plus the priors' information; full inverse for
up to FULL_COVARIANCE_MAX free parameters, item-by-item blocks beyond.  Standard errors of b
use the delta method on b = -d / a.

Fixed-parameter calibration: items with ``fixed`` set keep their (a, b, c); with
``estimate_population`` the mean and SD of theta are re-estimated each cycle from the posterior,
so the free items land on the scale defined by the fixed ones (Kim 2006, "MWU-MEM").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.special import expit, logit

from calibration.data import ResponseData

MODELS = ("rasch", "1pl", "2pl", "3pl")

A_BOUNDS = (0.01, 10.0)
D_BOUNDS = (-40.0, 40.0)
C_MAX = 0.5
# Largest change of (a, d, c) a single scoring step may make: keeps 3PL updates from jumping
# into a far-away flat region before step halving can react.  A longer step is shortened as a
# whole (see _limit_step), never clipped component by component.
MAX_STEP = np.array([1.0, 2.0, 0.1])
FULL_COVARIANCE_MAX = 2500
SCORE_CHUNK = 50_000
# persons x free parameters below which the XPD product is done with dense BLAS
DENSE_SCORES_MAX = 20_000_000
P_EPS = 1e-10


@dataclass(frozen=True)
class Priors:
    """Optional priors on item parameters.

    a_lognormal : (mu, sigma) with log(a) ~ N(mu, sigma^2), or None.  The density is that of
        a (with its 1/a factor, as mirt's ``lnorm``), so the estimate is the posterior mode in
        a, which lies below exp(mu): summed over many items the 1/a factors pull all slopes
        down together.
    a_float_sigma : sigma of a normal prior on log(a) centred on the mean log(a) of the
        estimated slopes, re-centred every EM cycle (BILOG-MG's FLOAT; Mislevy 1986), or None.
        The estimate is the posterior mode in log(a), so the prior shrinks each slope towards
        the others without moving their common level.  Ignored for rasch / 1pl.
    c_beta : (alpha, beta) with c ~ Beta(alpha, beta), or None.
    """

    a_lognormal: tuple[float, float] | None = None
    a_float_sigma: float | None = None
    c_beta: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.a_lognormal is not None and not self.a_lognormal[1] > 0:
            raise ValueError("the log-normal prior on a needs sigma > 0")
        if self.a_float_sigma is not None and not self.a_float_sigma > 0:
            raise ValueError("the floating prior on log a needs sigma > 0")
        if self.c_beta is not None and not min(self.c_beta) >= 1:
            raise ValueError("the beta prior on c needs alpha >= 1 and beta >= 1")


# SD of the default floating prior on log a: wide next to the spread of slopes in a bank
# (about 0.3 in log a for a in [0.7, 2]), so it only tempers slopes the data pin down poorly.
A_FLOAT_SIGMA = 0.5


def default_priors(model: str) -> Priors:
    """2PL and 3PL: the floating prior on log a with sigma A_FLOAT_SIGMA (shrinks each slope
    towards the others, never their common level; see docs/calibration.md for what it gains on
    recovery).  3PL also: Beta(5, 17) on c (mean 0.2, the usual choice for four or five
    options), which keeps c estimable for easy items.  Rasch / 1PL: none.  Pass ``Priors()``
    for plain maximum likelihood."""
    if model == "3pl":
        return Priors(a_float_sigma=A_FLOAT_SIGMA, c_beta=(5.0, 17.0))
    if model == "2pl":
        return Priors(a_float_sigma=A_FLOAT_SIGMA)
    return Priors()


@dataclass(frozen=True)
class FixedItems:
    """Items whose parameters are not estimated (anchors): mask (n_items,) and their values."""

    mask: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


@dataclass(frozen=True)
class MMLResult:
    """Estimates for every item of the data (fixed items keep their values, SE = NaN).
    ``iterations`` / ``converged`` are None when the engine does not report them (girth)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray
    loglik: float
    iterations: int | None
    converged: bool | None
    population_mean: float
    population_sd: float
    theta_eap: np.ndarray
    theta_psd: np.ndarray


N_QUAD = 61
ProgressFn = Callable[[int, float, float], None]


def quadrature(n_quad: int, mean: float = 0.0, sd: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Nodes on [-6, 6] and normalised N(mean, sd^2) weights at them."""
    nodes = np.linspace(-6.0, 6.0, n_quad)
    return nodes, _normal_weights(nodes, mean, sd)


def _normal_weights(nodes: np.ndarray, mean: float, sd: float) -> np.ndarray:
    w = np.exp(-0.5 * ((nodes - mean) / sd) ** 2)
    return w / w.sum()


def fit_mml(
    data: ResponseData,
    model: str,
    *,
    priors: Priors | None = None,
    fixed: FixedItems | None = None,
    free: np.ndarray | None = None,
    start: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    estimate_population: bool = False,
    population: tuple[float, float] = (0.0, 1.0),
    n_quad: int = N_QUAD,
    max_iter: int = 500,
    tol: float = 1e-4,
    progress: ProgressFn | None = None,
) -> MMLResult:
    """Estimate item parameters by MML-EM.

    Parameters
    ----------
    data : ResponseData with no constant item (see :func:`calibration.analysis.constant_items`).
    model : one of ``MODELS``.
    priors : Priors; default :func:`default_priors`.
    fixed : anchors kept at their values; None = all items free.
    free : (n_items, 3) bool override of which of (a, d, c) are estimated (items not free in
        any parameter should be in ``fixed``, whose values are also the start values); by
        default the model decides, and items in ``fixed`` are not estimated.
    start : (a, b, c) arrays of shape (n_items,): start values of the estimated parameters,
        moved inside the bounds (A_BOUNDS, c in [0, C_MAX]); parameters the model does not
        estimate keep their value (a = 1 for Rasch, c = 0 below the 3PL; the 1PL starts its
        common slope at the geometric mean of the start a), items in ``fixed`` keep theirs.
        Default: :func:`_start_values`.
    estimate_population : re-estimate the mean and SD of theta (needs fixed items to define
        the scale); otherwise theta ~ N(population).
    n_quad, max_iter, tol : quadrature nodes, EM cycle limit, convergence criterion on the
        largest change of any a, d, c (and population mean / SD) between cycles.
    progress : called as ``progress(iteration, loglik, max_change)`` after each cycle.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    if estimate_population and (fixed is None or not fixed.mask.any()):
        raise ValueError("the population can only be estimated when some items are fixed")
    priors = default_priors(model) if priors is None else priors
    n_items = data.n_items
    fixed_mask = np.zeros(n_items, bool) if fixed is None else np.asarray(fixed.mask, bool)
    common_a = model == "1pl" and free is None
    free = _free_mask(model, fixed_mask) if free is None else np.asarray(free, bool)

    r1, r0 = data.correct, data.wrong
    answered = data.answered()
    r1_t, answered_t = _transpose(r1), _transpose(answered)
    nodes, _ = quadrature(n_quad)
    mean, sd = population

    c_min = 1e-4 if priors.c_beta is not None else 0.0
    a, d, c = _start_values(data, model, priors)
    if start is not None:
        a, d, c = _given_start(start, a, c, free, common_a, c_min)
    if fixed is not None:
        a[fixed_mask] = fixed.a[fixed_mask]
        d[fixed_mask] = -fixed.a[fixed_mask] * fixed.b[fixed_mask]
        c[fixed_mask] = fixed.c[fixed_mask]

    def em_map(x: np.ndarray) -> tuple[np.ndarray, float]:
        """One EM cycle on the packed state (a, d, c, mean, sd): new state and loglik(x)."""
        a, d, c, mean, sd = _unpack(x, n_items)
        post, loglik = _e_step(r1, r0, a, d, c, nodes, _normal_weights(nodes, mean, sd))
        r = np.asarray(r1_t @ post)
        n = np.asarray(answered_t @ post)
        a, d, c = _m_step(a, d, c, r, n, nodes, free, common_a, priors, c_min)
        if estimate_population:
            mean, sd = _population_moments(post, nodes)
        return np.concatenate([a, d, c, [mean, sd]]), loglik

    def clip(x: np.ndarray) -> np.ndarray:
        return np.clip(x, lower, upper)

    state = np.concatenate([a, d, c, [mean, sd]])
    # bounds of the packed state; parameters that are not estimated are pinned to their value
    current = np.stack([a, d, c], axis=1)
    lo = np.where(free, [A_BOUNDS[0], D_BOUNDS[0], c_min], current).T.ravel()
    hi = np.where(free, [A_BOUNDS[1], D_BOUNDS[1], C_MAX], current).T.ravel()
    lower = np.concatenate([lo, [-np.inf, 1e-3]])
    upper = np.concatenate([hi, [np.inf, np.inf]])
    converged = False
    iteration = 0
    while iteration < max_iter:
        # SQUAREM (Varadhan & Roland 2008, scheme S3): two EM steps, one extrapolation along
        # them, one stabilising EM step; falls back to plain EM when the likelihood drops.
        x1, _ = em_map(state)
        x2, loglik1 = em_map(x1)
        iteration += 2
        step_r, step_v = x1 - state, x2 - 2 * x1 + state
        denom = float(np.sqrt(step_v @ step_v))
        alpha = -float(np.sqrt(step_r @ step_r)) / denom if denom > 0 else -1.0
        alpha = min(alpha, -1.0)
        x_acc = clip(state - 2 * alpha * step_r + alpha**2 * step_v)
        x3, loglik_acc = em_map(x_acc)
        iteration += 1
        if np.isfinite(loglik_acc) and loglik_acc >= loglik1:
            state, change = x3, x3 - x_acc
        else:
            state, change = x2, x2 - x1
        change_max = float(np.max(np.abs(change)))
        if progress is not None:
            progress(iteration, max(loglik1, loglik_acc), change_max)
        if change_max < tol:
            converged = True
            break

    a, d, c, mean, sd = _unpack(state, n_items)
    post, loglik = _e_step(r1, r0, a, d, c, nodes, _normal_weights(nodes, mean, sd))
    se_a, se_b, se_c = _standard_errors(data, post, a, d, c, nodes, free, common_a, priors)
    eap, psd = _eap_psd(post, nodes)
    b = -d / a
    if fixed is not None:
        # items held fixed report their exact bank b rather than a -d/a round trip
        held = fixed_mask & ~free.any(axis=1)
        b[held] = fixed.b[held]
    return MMLResult(
        a=a, b=b, c=c, se_a=se_a, se_b=se_b, se_c=se_c, loglik=float(loglik),
        iterations=iteration, converged=converged, population_mean=float(mean),
        population_sd=float(sd), theta_eap=eap, theta_psd=psd,
    )


def posterior(
    data: ResponseData, a, b, c, population=(0.0, 1.0), n_quad: int = N_QUAD
) -> tuple[float, np.ndarray, np.ndarray]:
    """Marginal log-likelihood, EAP and posterior SD of theta for given item parameters."""
    nodes, weights = quadrature(n_quad, *population)
    post, loglik = _e_step(data.correct, data.wrong, a, -a * b, c, nodes, weights)
    return (loglik, *_eap_psd(post, nodes))


def _eap_psd(post: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and SD of theta per person from the (persons, nodes) weights."""
    eap = post @ nodes
    return eap, np.sqrt(np.maximum(post @ nodes**2 - eap**2, 0.0))


def _unpack(x: np.ndarray, n_items: int):
    """Split the packed EM state into a, d, c (copies) and the population mean and SD."""
    a, d, c = (x[k * n_items:(k + 1) * n_items].copy() for k in range(3))
    return a, d, c, float(x[3 * n_items]), float(x[3 * n_items + 1])


def _free_mask(model: str, fixed_mask: np.ndarray) -> np.ndarray:
    """(n_items, 3) bool: which of (a, d, c) are estimated for each item."""
    free = np.zeros((len(fixed_mask), 3), bool)
    free[:, 1] = True
    free[:, 0] = model in ("1pl", "2pl", "3pl")
    free[:, 2] = model == "3pl"
    free[fixed_mask] = False
    return free


def _transpose(m):
    return m.T.tocsr() if sp.issparse(m) else np.ascontiguousarray(m.T)


def _start_values(data: ResponseData, model: str, priors: Priors):
    """a = 1, c (3PL) = the prior mean but at most half the proportion correct, and d from the
    proportion correct: for theta ~ N(0, 1) the marginal logit is about d / sqrt(1 + a^2 / 2.89)
    (logistic-normal approximation).  Capping c matters for hard items: starting them at
    c = 0.2 puts them near b = 3.5, the basin of a spurious high-c, high-b maximum."""
    n, right = data.item_counts()
    p_correct = right / np.maximum(n, 1)
    c = np.zeros(data.n_items)
    if model == "3pl":
        prior_mean = 0.2 if priors.c_beta is None else priors.c_beta[0] / sum(priors.c_beta)
        c = np.minimum(prior_mean, p_correct / 2)
    p = np.clip((p_correct - c) / (1 - c), 0.02, 0.98)
    a = np.ones(data.n_items)
    d = logit(p) * np.sqrt(1 + 1 / 2.89)
    return a, d, c


def _given_start(start, a, c, free, common_a, c_min):
    """(a, d, c) from user start values (a, b, c) for the estimated parameters, see fit_mml."""
    given_a, given_b, given_c = (np.asarray(v, dtype=float) for v in start)
    if not given_a.shape == given_b.shape == given_c.shape == a.shape:
        raise ValueError(f"start values need (a, b, c) arrays of {len(a)} items each")
    given_a = np.clip(given_a, *A_BOUNDS)
    if common_a:
        given_a = np.full(len(a), np.exp(np.mean(np.log(given_a))))
    a = np.where(free[:, 0], given_a, a)
    c = np.where(free[:, 2], np.clip(given_c, c_min, C_MAX), c)
    d = np.clip(-a * given_b, *D_BOUNDS)
    return a, d, c


def irf(a: np.ndarray, d: np.ndarray, c: np.ndarray, nodes: np.ndarray):
    """P (items, nodes), clipped away from 0 and 1, and sigma(a theta + d)."""
    s = expit(a[:, None] * nodes[None, :] + d[:, None])
    p = c[:, None] + (1 - c[:, None]) * s
    return np.clip(p, P_EPS, 1 - P_EPS), s


def _e_step(r1, r0, a, d, c, nodes, weights):
    """Posterior weights (persons, nodes) and the marginal log-likelihood."""
    p, _ = irf(a, d, c, nodes)
    loglik = np.asarray(r1 @ np.log(p)) + np.asarray(r0 @ np.log1p(-p))
    loglik += np.log(weights)
    top = loglik.max(axis=1, keepdims=True)
    np.subtract(loglik, top, out=loglik)
    np.exp(loglik, out=loglik)
    total = loglik.sum(axis=1, keepdims=True)
    loglik /= total
    return loglik, float(np.sum(top) + np.sum(np.log(total)))


def _population_moments(post: np.ndarray, nodes: np.ndarray) -> tuple[float, float]:
    marginal = post.mean(axis=0)
    mean = float(marginal @ nodes)
    sd = float(np.sqrt(max(marginal @ (nodes - mean) ** 2, 1e-6)))
    return mean, sd


def _derivatives(a, d, c, nodes):
    """P (items, nodes) and dP/d(a, d, c) (items, nodes, 3)."""
    p, s = irf(a, d, c, nodes)
    ds = (1 - c[:, None]) * s * (1 - s)
    deriv = np.stack([ds * nodes[None, :], ds, 1 - s], axis=-1)
    return p, deriv


def _slope_center(a, free, common_a, priors: Priors) -> float | None:
    """Centre of the floating prior on log a: the mean log a of the estimated slopes (None when
    the prior is off or no slope is estimated item by item)."""
    if priors.a_float_sigma is None or common_a or not free[:, 0].any():
        return None
    return float(np.mean(np.log(a[free[:, 0]])))


def _log_prior_terms(a, c, priors: Priors, center: float | None = None):
    """log prior (items,), its gradient (items, 3) and (positive) information (items, 3);
    ``center`` is the floating prior's centre from :func:`_slope_center`."""
    value = np.zeros(len(a))
    grad = np.zeros((len(a), 3))
    info = np.zeros((len(a), 3))
    if center is not None:
        # normal in log a, no 1/a factor: its gradient along "all slopes times s" is zero
        s2 = priors.a_float_sigma**2
        la = np.log(a)
        value += -((la - center) ** 2) / (2 * s2)
        grad[:, 0] += -(la - center) / (s2 * a)
        info[:, 0] += 1 / (s2 * a**2)
    if priors.a_lognormal is not None:
        mu, sigma = priors.a_lognormal
        la = np.log(a)
        value += -la - (la - mu) ** 2 / (2 * sigma**2)
        grad[:, 0] += -(1 + (la - mu) / sigma**2) / a
        info[:, 0] += 1 / (sigma**2 * a**2)
    if priors.c_beta is not None:
        alpha, beta = priors.c_beta
        cc = np.clip(c, 1e-6, 1 - 1e-6)
        value += (alpha - 1) * np.log(cc) + (beta - 1) * np.log1p(-cc)
        grad[:, 2] = (alpha - 1) / cc - (beta - 1) / (1 - cc)
        info[:, 2] = (alpha - 1) / cc**2 + (beta - 1) / (1 - cc) ** 2
    return value, grad, info


def _objective(a, d, c, r, n, nodes, priors, center):
    p, _ = irf(a, d, c, nodes)
    value = np.sum(r * np.log(p) + (n - r) * np.log1p(-p), axis=1)
    return value + _log_prior_terms(a, c, priors, center)[0]


def _m_step(a, d, c, r, n, nodes, free, common_a, priors, c_min, inner=10, step_tol=1e-7):
    """Fisher scoring on the expected complete-data log-likelihood, all items at once.  The
    floating prior's centre is taken from the cycle's input slopes and held during the cycle
    (at the EM fixed point it equals the mean log a of the estimates)."""
    center = _slope_center(a, free, common_a, priors)
    for _ in range(inner):
        p, deriv = _derivatives(a, d, c, nodes)
        pq = p * (1 - p)
        grad = np.einsum("jq,jqk->jk", (r - n * p) / pq, deriv)
        info = np.einsum("jq,jqk,jql->jkl", n / pq, deriv, deriv)
        _, prior_grad, prior_info = _log_prior_terms(a, c, priors, center)
        if common_a:
            step = _common_slope_step(grad, info, free, prior_grad, prior_info)
        else:
            grad += prior_grad
            info[:, [0, 1, 2], [0, 1, 2]] += prior_info
            active = free & ~_blocked(a, d, c, grad, c_min)
            step = _batched_step(grad, info, active)
            # a parameter on a bound that the joint step would push out is held there as
            # well, and the step of the others solved again without it
            out = active & _blocked(a, d, c, step, c_min)
            if out.any():
                step = _batched_step(grad, info, active & ~out)
        step = _limit_step(step, a, d, c, c_min, common_a)
        a, d, c, size = _halving_update(
            a, d, c, step, r, n, nodes, priors, center, c_min, common_a
        )
        if size < step_tol:
            break
    return a, d, c


def _limit_step(step: np.ndarray, a, d, c, c_min, common_a) -> np.ndarray:
    """Shorten each item's step as a whole: by the largest factor <= 1 that keeps every
    component within MAX_STEP and the parameters inside their bounds (a parameter that would
    cross a bound lands on it, and the active set of :func:`_blocked` holds it there in the
    next scoring step).

    Scaling keeps the scoring direction, which is an ascent direction because the information
    is positive definite.  Clipping components separately does not: on a nearly singular 3PL
    information (an item far from its optimum, or c running into 0 or C_MAX) the clipped step
    can point downhill, step halving then finds no increase and the item stays where it is,
    a false convergence.

    The 1PL's common slope is one parameter shared by all items: its step gets one factor
    (the smallest over items), each intercept its own, so that a slope held at a bound does
    not stop the intercepts (the 1PL objective is concave, halving is not needed there)."""
    params = np.stack([a, d, c], axis=1)
    lower = np.array([A_BOUNDS[0], D_BOUNDS[0], c_min])
    upper = np.array([A_BOUNDS[1], D_BOUNDS[1], C_MAX])
    room = np.where(step > 0, upper - params, params - lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.minimum(MAX_STEP, np.maximum(room, 0.0)) / np.abs(step)
    factor = np.minimum(np.where(step != 0, factor, np.inf), 1.0)
    if common_a:
        factor[:, 0] = factor[:, 0].min()
        return step * factor
    return step * factor.min(axis=1, keepdims=True)


def _blocked(a, d, c, direction, c_min):
    """(items, 3) bool: parameters sitting on a bound with ``direction`` (the gradient, or a
    scoring step) pointing outwards.  They are left out of the Newton system (active set),
    otherwise the clipped step of e.g. c = 0 would distort the steps of a and d through their
    covariance."""
    params = np.stack([a, d, c], axis=1)
    lower = np.array([A_BOUNDS[0], D_BOUNDS[0], c_min])
    upper = np.array([A_BOUNDS[1], D_BOUNDS[1], C_MAX])
    return ((params <= lower) & (direction < 0)) | ((params >= upper) & (direction > 0))


def _batched_step(grad, info, free):
    """Solve info @ step = grad item by item for the free parameters only."""
    eye = np.eye(3, dtype=bool)
    both = free[:, :, None] & free[:, None, :]
    info = np.where(both, info, eye[None])
    grad = np.where(free, grad, 0.0)
    # A tiny ridge keeps the solve defined for items whose information vanished (e.g. a 3PL
    # item driven to an asymptote); it does not change well-determined steps.
    info = info + 1e-9 * eye[None]
    return np.linalg.solve(info, grad[..., None])[..., 0]


def _common_slope_step(grad, info, free, prior_grad, prior_info):
    """Joint Newton step for one common a (free items) and each free item's d, by the Schur
    complement of the arrow-shaped information matrix."""
    items = free[:, 1] & free[:, 0]
    i_dd = info[items, 1, 1]
    i_da = info[items, 0, 1]
    g_d = grad[items, 1]
    g_a = grad[items, 0].sum() + prior_grad[np.argmax(items), 0]
    i_aa = info[items, 0, 0].sum() + prior_info[np.argmax(items), 0]
    delta_a = (g_a - np.sum(i_da * g_d / i_dd)) / (i_aa - np.sum(i_da**2 / i_dd))
    step = np.zeros_like(grad)
    step[items, 0] = delta_a
    step[items, 1] = (g_d - i_da * delta_a) / i_dd
    # items with a fixed slope but a free intercept (none in the models offered): plain Newton
    only_d = free[:, 1] & ~items
    step[only_d, 1] = grad[only_d, 1] / info[only_d, 1, 1]
    return step


def _halving_update(a, d, c, step, r, n, nodes, priors, center, c_min, common_a, tries=8):
    """Apply the step; items whose objective went down get it halved (up to ``tries`` times).
    The 1PL/2PL/Rasch objectives are concave in (a, d), so halving only matters for the 3PL
    and the priors; the common slope is shared, so it is never halved item by item."""
    before = _objective(a, d, c, r, n, nodes, priors, center)
    scale = np.ones(len(a))
    for _ in range(tries):
        na, nd, nc = _apply(a, d, c, step * scale[:, None], c_min)
        after = _objective(na, nd, nc, r, n, nodes, priors, center)
        worse = after < before - 1e-9 * np.abs(before)
        if common_a or not worse.any():
            break
        scale[worse] *= 0.5
    else:
        keep = worse
        na[keep], nd[keep], nc[keep] = a[keep], d[keep], c[keep]
    size = float(np.max(np.abs(np.concatenate([na - a, nd - d, nc - c])), initial=0.0))
    return na, nd, nc, size


def _apply(a, d, c, step, c_min):
    na = np.clip(a + step[:, 0], *A_BOUNDS)
    nd = np.clip(d + step[:, 1], *D_BOUNDS)
    nc = np.where(step[:, 2] != 0, np.clip(c + step[:, 2], c_min, C_MAX), c)
    return na, nd, nc


# --------------------------------------------------------------------------- standard errors
def _answer_scores(data: ResponseData, post, a, d, c, nodes):
    """Gradient of log P(x_ij | data_i) w.r.t. (a_j, d_j, c_j) for every answer (i, j, x):
    s_ij = sum_q W_iq dlog P(x | theta_q) / d(a, d, c).  Returns rows, cols, scores (answers, 3).
    """
    p, deriv = _derivatives(a, d, c, nodes)
    g_right = deriv / p[..., None]
    g_wrong = -deriv / (1 - p)[..., None]
    if data.is_dense:
        # dense data: three (persons x nodes) @ (nodes x items) products per response value
        rows, cols = np.nonzero(data.answered())
        right = data.correct[rows, cols] > 0
        scores = np.empty((len(rows), 3))
        for k in range(3):
            on_right = (post @ g_right[:, :, k].T)[rows, cols]
            on_wrong = (post @ g_wrong[:, :, k].T)[rows, cols]
            scores[:, k] = np.where(right, on_right, on_wrong)
        return rows, cols, scores
    answered = sp.coo_matrix(data.answered())
    rows, cols = answered.row, answered.col
    right = np.asarray(data.correct[rows, cols]).ravel() > 0
    scores = np.empty((len(rows), 3))
    for start in range(0, len(rows), SCORE_CHUNK):
        sl = slice(start, start + SCORE_CHUNK)
        w = post[rows[sl]]
        g = np.where(right[sl, None, None], g_right[cols[sl]], g_wrong[cols[sl]])
        scores[sl] = np.einsum("nq,nqk->nk", w, g)
    return rows, cols, scores


def _standard_errors(data, post, a, d, c, nodes, free, common_a, priors):
    """SE of a, b, c from the XPD information (see module docstring); NaN when not estimated."""
    n_items = len(a)
    rows, cols, scores = _answer_scores(data, post, a, d, c, nodes)
    column = -np.ones((n_items, 3), dtype=np.int64)
    if common_a:
        column[free[:, 0], 0] = 0
        offset = 1 if free[:, 0].any() else 0
        flat = free.copy()
        flat[:, 0] = False
        column[flat] = offset + np.arange(int(flat.sum()))
    else:
        column[free] = np.arange(int(free.sum()))
    n_par = int(column.max()) + 1
    _, _, prior_info = _log_prior_terms(a, c, priors, _slope_center(a, free, common_a, priors))
    prior_diag = np.zeros(n_par + 1)
    # assignment, not addition: a common slope shares one column and one prior
    prior_diag[column[free]] = prior_info[free]

    if n_par <= FULL_COVARIANCE_MAX:
        cov = _full_covariance(rows, cols, scores, column, n_par, prior_diag, data.n_persons)
        var = lambda k, m: cov[column[:, k], column[:, m]]  # noqa: E731
    else:
        blocks = _block_covariance(rows, cols, scores, column, free, common_a, n_items, data)
        var = lambda k, m: blocks[:, k, m]  # noqa: E731

    var_a, var_d, var_c, cov_ad = var(0, 0), var(1, 1), var(2, 2), var(0, 1)
    var_b = (d / a**2) ** 2 * var_a + var_d / a**2 - 2 * d / a**3 * cov_ad
    se_a = np.where(free[:, 0], np.sqrt(np.maximum(var_a, 0)), np.nan)
    se_b = np.where(free[:, 1], np.sqrt(np.maximum(var_b, 0)), np.nan)
    se_c = np.where(free[:, 2], np.sqrt(np.maximum(var_c, 0)), np.nan)
    return se_a, se_b, se_c


def _full_covariance(rows, cols, scores, column, n_par, prior_diag, n_persons):
    """Inverse of sum_i s_i s_i^T (+ prior information), padded with a zero row/column at
    index -1 so that fixed parameters read as zero variance."""
    par = column[cols]
    ok = par >= 0
    person = np.broadcast_to(rows[:, None], par.shape)[ok]
    if n_persons * n_par <= DENSE_SCORES_MAX:
        flat = np.bincount(person * n_par + par[ok], scores[ok], minlength=n_persons * n_par)
        person_scores = flat.reshape(n_persons, n_par)
        info = person_scores.T @ person_scores
    else:
        person_scores = sp.csr_matrix((scores[ok], (person, par[ok])), shape=(n_persons, n_par))
        info = (person_scores.T @ person_scores).toarray()
    info[np.diag_indices(n_par)] += prior_diag[:n_par]
    padded = np.zeros((n_par + 1, n_par + 1))
    try:
        factor = scipy.linalg.cho_factor(info)
        padded[:n_par, :n_par] = scipy.linalg.cho_solve(factor, np.eye(n_par))
    except np.linalg.LinAlgError:
        # not positive definite (a parameter the data cannot identify): pseudo-inverse
        padded[:n_par, :n_par] = np.linalg.pinv(info, hermitian=True)
    return padded


def _block_covariance(rows, cols, scores, column, free, common_a, n_items, data):
    """Item-by-item 3x3 XPD blocks (cross-item covariances ignored) for large banks."""
    info = np.zeros((n_items, 3, 3))
    for k in range(3):
        for m in range(3):
            info[:, k, m] = np.bincount(cols, scores[:, k] * scores[:, m], minlength=n_items)
    par_free = free.copy()
    if common_a:
        par_free[:, 0] = False
    eye = np.eye(3, dtype=bool)
    both = par_free[:, :, None] & par_free[:, None, :]
    inv = np.linalg.inv(np.where(both, info, eye[None]) + 1e-12 * eye[None])
    inv = np.where(both, inv, 0.0)
    if common_a and free[:, 0].any():
        slope = np.where(free[cols, 0], scores[:, 0], 0.0)
        per_person = np.bincount(rows, slope, minlength=data.n_persons)
        inv[free[:, 0], 0, 0] = 1.0 / np.sum(per_person**2)
    return inv
