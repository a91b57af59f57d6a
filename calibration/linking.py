"""Linking new items to the bank's scale and checking anchors for drift.

Fixed-parameter calibration (FPC): the anchors (operational items that appear in the data)
keep their bank parameters, the mean and SD of theta are estimated from the posterior, and the
new items' parameters come out on the bank's scale (Kim 2006, J. Educ. Meas. 43(4)).

Drift: with the population fixed at the FPC estimate and every other item held at its value,
each anchor's a and b (b only for Rasch/1PL) are re-estimated freely; c stays at its bank
value.  An anchor is flagged when ``|b_new - b_bank| > threshold`` *and* the change is
statistically clear, ``|z| = |b_new - b_bank| / SE(b_new) > z_critical``, so that a small
sample alone does not flag an item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.data import ResponseData
from calibration.mml import N_QUAD, FixedItems, MMLResult, Priors, fit_mml
from cat_engine.irt import ItemBank

DRIFT_THRESHOLD = 0.3
DRIFT_Z = 1.96


def fixed_from_bank(bank: ItemBank, item_ids: np.ndarray) -> FixedItems:
    """FixedItems aligned with ``item_ids``: the items found in ``bank`` are held at their bank
    values, the others are free."""
    where = {k: i for i, k in enumerate(bank.ids.tolist())}
    index = np.array([where.get(k, -1) for k in np.asarray(item_ids).tolist()])
    mask = index >= 0
    pick = np.where(mask, index, 0)
    return FixedItems(
        mask,
        np.where(mask, bank.a[pick], 1.0),
        np.where(mask, bank.b[pick], 0.0),
        np.where(mask, bank.c[pick], 0.0),
    )


@dataclass(frozen=True)
class DriftReport:
    """One row per anchor found in the data: bank values, free re-estimates and the flag."""

    ids: np.ndarray
    bank_a: np.ndarray
    bank_b: np.ndarray
    new_a: np.ndarray
    new_b: np.ndarray
    se_b: np.ndarray
    z: np.ndarray
    flagged: np.ndarray

    @property
    def delta_b(self) -> np.ndarray:
        return self.new_b - self.bank_b

    def to_records(self) -> list[dict]:
        return [
            {
                "id": str(i), "bank_a": float(ba), "bank_b": float(bb), "new_a": float(na),
                "new_b": float(nb), "delta_b": float(nb - bb), "se_b": finite_or_none(se),
                "z": finite_or_none(z),
                "drifting": bool(f),
            }
            for i, ba, bb, na, nb, se, z, f in zip(
                self.ids, self.bank_a, self.bank_b, self.new_a, self.new_b, self.se_b, self.z,
                self.flagged, strict=True,
            )
        ]


def anchor_drift(
    data: ResponseData,
    model: str,
    fixed: FixedItems,
    linked: MMLResult,
    *,
    priors: Priors | None = None,
    threshold: float = DRIFT_THRESHOLD,
    z_critical: float = DRIFT_Z,
    n_quad: int = N_QUAD,
) -> DriftReport:
    """Free re-estimates of the anchors on the scale of the FPC result ``linked`` (see module
    docstring).  ``fixed`` marks the anchors among ``data``'s items."""
    anchors = np.asarray(fixed.mask, bool)
    everything = FixedItems(np.ones(data.n_items, bool), linked.a, linked.b, linked.c)
    free = np.zeros((data.n_items, 3), bool)
    free[anchors, 1] = True
    free[anchors, 0] = model in ("2pl", "3pl")
    refit = fit_mml(
        data, model, priors=priors, fixed=everything, free=free,
        population=(linked.population_mean, linked.population_sd), n_quad=n_quad,
    )
    delta = refit.b[anchors] - fixed.b[anchors]
    se = refit.se_b[anchors]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = delta / se
    flagged = (np.abs(delta) > threshold) & (np.abs(z) > z_critical)
    return DriftReport(
        ids=data.item_ids[anchors], bank_a=fixed.a[anchors], bank_b=fixed.b[anchors],
        new_a=refit.a[anchors], new_b=refit.b[anchors], se_b=se, z=z, flagged=flagged,
    )


def finite_or_none(x: float) -> float | None:
    """JSON-ready number: NaN / inf become None (null)."""
    return float(x) if np.isfinite(x) else None
