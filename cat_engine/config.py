"""How a test runs: the configuration objects of a CAT and the exam window's exposure state.

* :class:`SelectionRule`: which item comes next (the selection method, its exposure control
  and content balance), read by :func:`cat_engine.selection.select_item` and, for LOFT forms,
  :func:`cat_engine.assembly.assemble_form`;
* :class:`CatConfig`: a whole CAT (stopping rule, selection rule, estimator, prior);
* :class:`ExposureWindow`: how often each item was used by the exam window's earlier tests,
  which the running cap and the least-exposed rule read.

All are frozen and validated on construction (ValueError naming the problem); the arrays they
hold are read-only copies, so a rule or a window cannot change after it was checked.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .estimation import METHODS
from .exposure import check_cap_ramp, check_counts
from .grid import check_prior
from .stopping import StoppingRule

__all__ = ["SelectionRule", "CatConfig", "ExposureWindow", "SELECTORS", "check_sh_params",
           "check_prices"]

SELECTORS = ("mfi", "randomesque", "sympson-hetter")


def _vector(values, what: str, n_items: int | None) -> np.ndarray:
    """``values`` as a 1-D float64 array, of ``n_items`` entries unless None."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{what} must be a one-dimensional array, one value per item")
    if n_items is not None and v.size != n_items:
        raise ValueError(f"mismatched lengths: {v.size} {what} for {n_items} items")
    return v


def check_sh_params(sh_params, n_items: int | None = None) -> np.ndarray:
    """Validate Sympson-Hetter exposure parameters ``K_i``: ``(n,)`` floats in ``[0, 1]``
    (``n_items`` the bank's size; None = any length)."""
    if sh_params is None:
        raise ValueError("sympson-hetter selection needs sh_params (exposure parameters)")
    k = _vector(sh_params, "Sympson-Hetter parameters", n_items)
    if np.isnan(k).any() or (k < 0).any() or (k > 1).any():
        raise ValueError("Sympson-Hetter parameters must be in [0, 1]")
    return k


def check_prices(prices, n_items: int | None = None) -> np.ndarray:
    """Validate exposure prices ``lambda_i``: ``(n,)`` finite floats ``>= 0`` (``n_items`` the
    bank's size; None = any length)."""
    lam = _vector(prices, "exposure prices", n_items)
    if not np.isfinite(lam).all() or (lam < 0).any():
        raise ValueError("exposure prices must be finite numbers >= 0")
    return lam


def _frozen(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class SelectionRule:
    """Which item comes next: the rule, its exposure control and content balance.

    Attributes
    ----------
    method : ``"mfi"`` (maximum Fisher information), ``"randomesque"`` (uniform among the
        ``k`` most informative eligible items) or ``"sympson-hetter"`` (walk down the
        information order, give item ``i`` with probability ``sh_params[i]``)
    k : randomesque: how many of the best items the choice is among
    content_targets : {tag: share}; the next item comes from the tag of largest deficit
        ``share * (n + 1) - count`` (normalized shares); None = no content balance
    max_exposure : running exposure cap ``r_max`` in (0, 1]: an item is eligible only while
        ``(n_i + 1) / (T + 1) <= r_max`` over the exam window; 1 = off
    cap_ramp : ``(f, S)``: progressive cap under ``max_exposure``, the item at position ``s``
        (0-based) may use only ``r_max * min(1, f + (1 - f) s / S)``; None = flat
    exposure_slack : least exposed first: within each content tag only the items exposed at
        most this many times above the tag's least exposed eligible item; None = off
    sh_params : (n,) Sympson-Hetter parameters ``K_i`` in [0, 1]; only with that method (in a
        LOFT form: item ``i`` takes part in the form's draw with probability ``K_i``)
    prices : (n,) exposure prices ``lambda_i >= 0``: every method ranks items by the priced
        information ``I_i(theta) - lambda_i``; None = plain information

    The exposure rules are defined in :mod:`cat_engine.exposure`, the prices in
    :mod:`cat_engine.exposure_calibration`.  The bank-sized arrays are checked against the bank
    when the rule is used.
    """

    method: str = "mfi"
    k: int = 5
    content_targets: Mapping[str, float] | None = None
    max_exposure: float = 1.0
    cap_ramp: tuple[float, int] | None = None
    exposure_slack: int | None = None
    sh_params: np.ndarray | None = None
    prices: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.method not in SELECTORS:
            raise ValueError(
                f"unknown selection method {self.method!r} (choose from {', '.join(SELECTORS)})"
            )
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise ValueError(f"randomesque k must be an integer >= 1 (got {self.k!r})")
        if self.content_targets is not None:
            object.__setattr__(self, "content_targets", _check_targets(self.content_targets))
        if not (0 < self.max_exposure <= 1):
            raise ValueError(f"max_exposure must be in (0, 1] (got {self.max_exposure})")
        object.__setattr__(self, "cap_ramp", check_cap_ramp(self.cap_ramp))
        slack = self.exposure_slack
        if slack is not None and (isinstance(slack, bool) or not isinstance(slack, int | np.integer)
                                  or slack < 0):
            raise ValueError(f"exposure_slack must be an integer >= 0 or None (got {slack!r})")
        if self.method == "sympson-hetter":
            object.__setattr__(self, "sh_params", _frozen(check_sh_params(self.sh_params)))
        elif self.sh_params is not None:
            raise ValueError(f"sh_params are for sympson-hetter selection (method is "
                             f"{self.method!r})")
        if self.prices is not None:
            object.__setattr__(self, "prices", _frozen(check_prices(self.prices)))


def _check_targets(targets: Mapping[str, float]) -> Mapping[str, float]:
    """Content targets as a read-only {tag: share}: string tags, shares >= 0, positive sum."""
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError("content_targets must be a non-empty {tag: share} mapping "
                         "(None = no content balance)")
    if not all(isinstance(tag, str) for tag in targets):
        raise ValueError("content target tags must be strings")
    try:
        shares = {tag: float(share) for tag, share in targets.items()}
    except (TypeError, ValueError):
        raise ValueError("content target shares must be numbers") from None
    values = np.array(list(shares.values()))
    if not np.isfinite(values).all() or (values < 0).any() or values.sum() <= 0:
        raise ValueError("content targets must be non-negative shares with a positive sum")
    return types.MappingProxyType(shares)


@dataclass(frozen=True, eq=False)
class CatConfig:
    """A CAT: when it stops, how it selects, how it estimates ability (with which prior)."""

    stopping: StoppingRule = field(default_factory=StoppingRule)
    selection: SelectionRule = field(default_factory=SelectionRule)
    estimator: str = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0

    def __post_init__(self) -> None:
        if self.estimator not in METHODS:
            raise ValueError(
                f"unknown estimation method {self.estimator!r} (choose from {', '.join(METHODS)})"
            )
        check_prior(self.prior_mean, self.prior_sd)


@dataclass(frozen=True, eq=False)
class ExposureWindow:
    """The exam window's exposure so far, as the running cap and least-exposed rule read it.

    Attributes
    ----------
    counts : (n,) int, tests of the window before this one that contained each item
    n_tests : tests started in the window before this one (``counts <= n_tests``, checked)
    """

    counts: np.ndarray
    n_tests: int

    def __post_init__(self) -> None:
        try:
            n_tests = operator.index(self.n_tests)
        except TypeError:
            raise ValueError(f"the number of tests must be an integer (got {self.n_tests!r})") \
                from None
        counts = check_counts(self.counts, n_tests)
        if counts.flags.writeable or counts.dtype != np.intp:
            counts = counts.astype(np.intp)  # a copy, which nothing else can change
            counts.setflags(write=False)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "n_tests", n_tests)
