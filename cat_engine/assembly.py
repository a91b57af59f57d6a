"""Test assembly: an adaptive session step (CAT) and linear-on-the-fly forms (LOFT).

**CAT.**  An attempt is an immutable :class:`AttemptState`; :func:`record_response` returns the
next state and :func:`next_item` chooses the next item (or None when a stopping rule fires).
The EAP posterior is kept as a running log-likelihood on the quadrature grid, so a response
costs one ``O(Q)`` update, ``log L_k(x) = log L_{k-1}(x) + u log P(x) + (1 - u) log Q(x)``.
MAP, WLE re-estimate from the whole pattern; MLE uses EAP until the pattern holds both a correct
and a wrong answer (its estimate is a bound before that).

**LOFT.**  :func:`assemble_loft` draws a random form with the exact content quotas, then swaps
items (within a content tag) until the form's information is within ``tolerance`` of the target
at every target ability; the swap is drawn at random among those that reach the tolerance, so
forms differ from each other (van der Linden, 2005, ch. 9, on randomized assembly).

Reference: van der Linden, W. J. (2005). *Linear Models for Optimal Test Design*. Springer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .estimation import (
    GRID,
    METHODS,
    Estimate,
    _check_prior,
    eap_from_log_likelihood,
    estimate,
)
from .exposure import DEFAULT_CAP_RAMP, check_cap_ramp
from .irt import ItemBank, _information, _item_log_likelihood
from .selection import SELECTORS, check_sh_params, content_quotas, select_item
from .stopping import StoppingRule

__all__ = ["CatConfig", "AttemptState", "start_attempt", "record_response", "next_item",
           "assemble_loft", "loft_target_information"]

_LOFT_MAX_SWAPS = 400
_LOFT_POOL = 2000  # candidate items considered per swap (a random subset on large banks)


@dataclass(frozen=True)
class CatConfig:
    """How a CAT runs: stopping rule, selector, estimator, exposure and content control."""

    stopping: StoppingRule = field(default_factory=StoppingRule)
    selector: str = "mfi"
    k: int = 5
    estimator: str = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    content_targets: Mapping[str, float] | None = None
    sh_params: np.ndarray | None = None
    max_exposure: float = 1.0  # running exposure cap r_max; 1 = off (see selection.select_item)
    # progressive cap (f, S) under max_exposure; None = the same cap at every position
    cap_ramp: tuple[float, int] | None = DEFAULT_CAP_RAMP

    def __post_init__(self) -> None:
        if self.selector not in SELECTORS:
            raise ValueError(
                f"unknown selection method {self.selector!r} (choose from {', '.join(SELECTORS)})"
            )
        if self.estimator not in METHODS:
            raise ValueError(
                f"unknown estimation method {self.estimator!r} (choose from {', '.join(METHODS)})"
            )
        if self.k < 1:
            raise ValueError(f"randomesque k must be >= 1 (got {self.k})")
        _check_prior(self.prior_mean, self.prior_sd)
        if not (0 < self.max_exposure <= 1):
            raise ValueError(f"max_exposure must be in (0, 1] (got {self.max_exposure})")
        object.__setattr__(self, "cap_ramp", check_cap_ramp(self.cap_ramp))
        if self.selector == "sympson-hetter" and self.sh_params is None:
            raise ValueError("sympson-hetter selection needs sh_params (exposure parameters)")


@dataclass(frozen=True, eq=False)
class AttemptState:
    """One examinee's CAT so far (immutable; each response makes a new state).

    Attributes
    ----------
    items : bank indices administered, in order
    responses : their 0/1 responses
    log_likelihood : (Q,) log-likelihood of the responses on ``estimation.GRID``
    estimate : current ability estimate
    stop_reason : why the test ended ("se", "classified", "max_items") or None
    """

    items: tuple[int, ...]
    responses: tuple[int, ...]
    log_likelihood: np.ndarray
    estimate: Estimate
    stop_reason: str | None


def start_attempt(config: CatConfig) -> AttemptState:
    """The state before any response: the prior as the estimate."""
    ll = np.zeros(GRID.size)
    ll.setflags(write=False)
    est = eap_from_log_likelihood(ll, config.prior_mean, config.prior_sd)
    return AttemptState((), (), ll, est, config.stopping.reason(0, est))


def record_response(
    state: AttemptState, bank: ItemBank, item: int, response: int, config: CatConfig
) -> AttemptState:
    """Add the response to ``item`` (a bank index): update the estimate and the stop reason."""
    if response not in (0, 1):
        raise ValueError(f"responses must be 0 or 1 (got {response!r})")
    if not 0 <= item < len(bank):
        raise ValueError(f"item index {item} is outside the bank of {len(bank)} items")
    if item in state.items:
        raise ValueError(f"item {bank.ids[item]} was already administered in this attempt")
    ll = state.log_likelihood + _item_log_likelihood(
        GRID, response, float(bank.a[item]), float(bank.b[item]), float(bank.c[item])
    )
    ll.setflags(write=False)
    items, responses = (*state.items, int(item)), (*state.responses, int(response))
    method = config.estimator
    if method == "mle" and len(set(responses)) < 2:
        method = "eap"  # the MLE is a bound until the pattern is mixed
    if method == "eap":
        est = eap_from_log_likelihood(ll, config.prior_mean, config.prior_sd)
    else:
        idx = np.array(items)
        est = estimate(np.array(responses), bank.a[idx], bank.b[idx], bank.c[idx], method,
                       prior_mean=config.prior_mean, prior_sd=config.prior_sd)
    return AttemptState(items, responses, ll, est, config.stopping.reason(len(items), est))


def next_item(
    state: AttemptState,
    bank: ItemBank,
    config: CatConfig,
    *,
    rng: np.random.Generator,
    excluded=None,
    exposure_counts=None,
    n_tests: int = 0,
    prices=None,
) -> int | None:
    """The next item's bank index, or None when the attempt has stopped.

    ``excluded`` (``(n,)`` bool) marks items never to give (seen before, retired); items of this
    attempt are excluded as well.  With ``config.max_exposure < 1``, ``exposure_counts``
    (``(n,)`` int, tests of the window that contained each item) and ``n_tests`` (tests started
    before this one) drive the running exposure cap, tightened for the early items of the test by
    ``config.cap_ramp``.  ``prices`` (``(n,)`` exposure prices of the exam window, from
    :func:`cat_engine.exposure.calibrate_exposure_prices`) rank items by ``I_i(theta) -
    prices_i``.  Raises ValueError when no item is eligible.
    """
    if state.stop_reason is not None:
        return None
    mask = np.zeros(len(bank), dtype=bool) if excluded is None else np.array(excluded,
                                                                            dtype=bool)
    if mask.shape != (len(bank),):
        raise ValueError(
            f"mismatched lengths: excluded mask has {mask.size} entries for {len(bank)} items"
        )
    if state.items:
        mask[list(state.items)] = True
    counts = Counter(bank.content[list(state.items)].tolist()) if config.content_targets else None
    return select_item(
        bank, state.estimate.theta, excluded=mask, rng=rng, method=config.selector, k=config.k,
        sh_params=config.sh_params, content_targets=config.content_targets,
        content_counts=counts, max_exposure=config.max_exposure,
        exposure_counts=exposure_counts, n_tests=n_tests, position=len(state.items),
        cap_ramp=config.cap_ramp, prices=prices,
    )


def loft_target_information(bank: ItemBank, length: int, target_thetas=(-1, 0, 1)) -> np.ndarray:
    """Default LOFT target: ``length`` times the bank's mean item information at each theta.

    That is the expected information of a form drawn at random from the bank, so forms can be
    both on target and different from each other.  Shape ``(T,)``.
    """
    thetas = np.asarray(target_thetas, dtype=np.float64)
    return length * _information(thetas[:, None], bank.a, bank.b, bank.c).mean(axis=1)


def _relative_gap(form_info: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Worst relative deviation ``max_j |F_j - T_j| / T_j`` over the last axis."""
    return np.abs(form_info / target - 1.0).max(axis=-1)


def assemble_loft(
    bank: ItemBank,
    length: int,
    *,
    rng: np.random.Generator,
    excluded=None,
    target_thetas: Sequence[float] = (-1, 0, 1),
    target_information=None,
    content_shares: Mapping[str, float] | None = None,
    tolerance: float = 0.10,
    sh_params=None,
) -> np.ndarray:
    """Assemble one fixed-length form for one participant.

    Parameters
    ----------
    bank : ItemBank
    length : number of items
    rng : numpy Generator (the randomness that makes forms differ)
    excluded : (n,) bool; True = never use (seen before, retired)
    target_thetas : (T,) abilities where the information is controlled
    target_information : (T,) target test information there; default
        :func:`loft_target_information`
    content_shares : {tag: share}; the form holds exactly ``content_quotas(shares, length)``
        items of each tag (largest-remainder rounding); None = no content constraint
    tolerance : allowed relative deviation ``|I_form(theta_j) / T_j - 1|`` at every ``theta_j``
    sh_params : (n,) Sympson-Hetter parameters; item ``i`` takes part in this form's draw with
        probability ``K_i`` (all eligible items are used if the lottery leaves too few)

    Returns
    -------
    (length,) int array of bank indices, no repeats, never an excluded item.

    Raises
    ------
    ValueError
        Too few eligible items (per tag), bad arguments, or no form within the tolerance.
    """
    n = len(bank)
    if length < 1:
        raise ValueError(f"form length must be >= 1 (got {length})")
    if not (0 < tolerance < 1):
        raise ValueError(f"tolerance must be in (0, 1) (got {tolerance})")
    eligible = np.ones(n, dtype=bool) if excluded is None else ~np.asarray(excluded, dtype=bool)
    if eligible.shape != (n,):
        raise ValueError(
            f"mismatched lengths: excluded mask has {eligible.size} entries for {n} items"
        )
    if not eligible.any():
        raise ValueError("no eligible item: the bank is fully excluded")
    thetas = np.asarray(target_thetas, dtype=np.float64)
    if thetas.ndim != 1 or thetas.size == 0 or not np.isfinite(thetas).all():
        raise ValueError("target_thetas must be a non-empty list of finite abilities")
    if target_information is None:
        target = loft_target_information(bank, length, thetas)
    else:
        target = np.asarray(target_information, dtype=np.float64)
        if target.shape != thetas.shape:
            raise ValueError(
                f"mismatched lengths: {target.size} target information values for "
                f"{thetas.size} target thetas"
            )
        if not (np.isfinite(target).all() and (target > 0).all()):
            raise ValueError("target information must be positive numbers")
    if content_shares:
        unknown = set(content_shares).difference(bank.content_codes[0])
        if unknown:
            raise ValueError(f"content share tag(s) not in the bank: {', '.join(sorted(unknown))}")
        quotas = content_quotas(content_shares, length)
        group = bank.content
    else:
        quotas = {"": length}
        group = np.full(n, "")
    if sh_params is not None:
        lottery = rng.random(n) < check_sh_params(sh_params, n)
    else:
        lottery = np.ones(n, dtype=bool)

    # Initial form: a random draw with the exact quota per tag.
    form_parts = []
    for tag, quota in quotas.items():
        pool = np.flatnonzero(eligible & (group == tag))
        if pool.size < quota:
            raise ValueError(
                f"too few eligible items for content {tag or '(any)'!r}: "
                f"{pool.size} < {quota} needed"
            )
        drawn = pool[lottery[pool]]
        pool = drawn if drawn.size >= quota else pool
        form_parts.append(rng.choice(pool, size=quota, replace=False))
    form = np.concatenate(form_parts)
    info = _information(thetas[:, None], bank.a, bank.b, bank.c).T  # (n, T)
    current = info[form].sum(axis=0)
    usable = eligible & lottery
    if usable.sum() < length:
        usable = eligible
    for _ in range(_LOFT_MAX_SWAPS):
        if _relative_gap(current, target) <= tolerance:
            return form
        in_form = np.zeros(n, dtype=bool)
        in_form[form] = True
        outside = np.flatnonzero(usable & ~in_form)
        if outside.size > _LOFT_POOL:
            outside = rng.choice(outside, size=_LOFT_POOL, replace=False)
        # new[r, s] = current - I[form[r]] + I[outside[s]], only within one content tag.
        new = current - info[form][:, None, :] + info[outside][None, :, :]
        gap = _relative_gap(new, target)
        gap[group[form][:, None] != group[outside][None, :]] = np.inf
        ok = np.flatnonzero(gap.ravel() <= tolerance)
        flat = rng.choice(ok) if ok.size else int(np.argmin(gap))
        r, s = np.unravel_index(flat, gap.shape)
        if not np.isfinite(gap[r, s]):
            break
        current = new[r, s]
        form = form.copy()
        form[r] = outside[s]
    raise ValueError(
        f"cannot assemble a LOFT form within ±{tolerance:.0%} of the target information "
        f"{np.round(target, 3).tolist()} at theta {thetas.tolist()} from the eligible items"
    )
