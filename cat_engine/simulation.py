"""Simulated examinees: known abilities answer by the IRT model; recovery and exposure figures.

Examinee ``j`` with true ability ``theta_j`` answers item ``i`` correctly when a uniform draw is
below ``P_i(theta_j)``.  The summary figures over ``N`` examinees are

* ``rmse = sqrt(mean (theta_hat - theta)^2)``, ``bias = mean (theta_hat - theta)``;
* ``mean_length``: mean number of items given;
* ``max_exposure`` and ``mean_overlap`` (see :mod:`cat_engine.exposure`);
* ``classification_accuracy`` (with ``theta_cut``): share with
  ``(theta_hat >= theta_cut) == (theta >= theta_cut)``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .assembly import CatConfig, assemble_loft, next_item, record_response, start_attempt
from .estimation import estimate
from .exposure import DEFAULT_CAP_RAMP, capped_exclusion, exposure_rates, mean_overlap
from .irt import ItemBank, _probability
from .stopping import StoppingRule

__all__ = ["SimulationResult", "simulate", "generate_bank", "MODES", "MODELS"]

MODES = ("cat", "loft")
MODELS = ("1pl", "2pl", "3pl")


def generate_bank(
    n_items: int, model: str = "3pl", *, rng: np.random.Generator, content_tags=()
) -> ItemBank:
    """A synthetic bank for tries: ``b ~ N(0, 1)``; ``a ~ LogNormal(0, 0.3)`` (2PL, 3PL) or 1;
    ``c ~ U(0.05, 0.25)`` (3PL, four-option items) or 0; tags assigned in turn from
    ``content_tags`` (equal shares).  Item ids are ``I00001``, ``I00002``, ..."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (choose from {', '.join(MODELS)})")
    if n_items < 1:
        raise ValueError(f"the number of items must be >= 1 (got {n_items})")
    b = rng.standard_normal(n_items)
    a = np.ones(n_items) if model == "1pl" else rng.lognormal(0.0, 0.3, n_items)
    c = rng.uniform(0.05, 0.25, n_items) if model == "3pl" else np.zeros(n_items)
    tags = list(content_tags)
    content = [tags[i % len(tags)] for i in range(n_items)] if tags else [""] * n_items
    width = max(5, len(str(n_items)))
    return ItemBank(ids=np.array([f"I{i + 1:0{width}d}" for i in range(n_items)]), a=a, b=b,
                    c=c, content=np.array(content))


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-examinee outcomes (arrays of shape ``(N,)``) and the tests given."""

    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    lengths: np.ndarray
    tests: list[np.ndarray]
    exposure: np.ndarray  # (n_items,) share of tests each item appeared in
    theta_cut: float | None
    seconds: float

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean((self.theta - self.true_theta) ** 2)))

    @property
    def bias(self) -> float:
        return float(np.mean(self.theta - self.true_theta))

    @property
    def classification_accuracy(self) -> float | None:
        if self.theta_cut is None:
            return None
        return float(np.mean((self.theta >= self.theta_cut) == (self.true_theta >= self.theta_cut)))

    def summary(self) -> dict:
        """The JSON-ready figures of the simulation."""
        n_items = self.exposure.size
        return {
            "examinees": int(self.theta.size),
            "rmse": self.rmse,
            "bias": self.bias,
            "mean_se": float(np.mean(self.se)),
            "mean_length": float(np.mean(self.lengths)),
            "max_exposure": float(self.exposure.max()),
            "mean_overlap": mean_overlap(self.tests, n_items) if len(self.tests) > 1 else None,
            "theta_cut": self.theta_cut,
            "classification_accuracy": self.classification_accuracy,
            "seconds": self.seconds,
        }


def simulate(
    bank: ItemBank,
    thetas,
    *,
    rng: np.random.Generator,
    mode: str = "cat",
    max_items: int = 30,
    min_items: int = 1,
    se_target: float | None = None,
    theta_cut: float | None = None,
    selector: str = "mfi",
    estimator: str = "eap",
    k: int = 5,
    sh_params=None,
    content_targets: Mapping[str, float] | None = None,
    target_information=None,
    tolerance: float = 0.10,
    max_exposure: float = 1.0,
    cap_ramp: tuple[float, int] | None = DEFAULT_CAP_RAMP,
    prices=None,
) -> SimulationResult:
    """Simulate one test per true ability in ``thetas`` (``(N,)``).

    ``mode="cat"`` runs an adaptive test with the stopping rule (``min_items``, ``max_items``,
    ``se_target``, ``theta_cut``), the ``selector`` (mfi | randomesque with ``k`` |
    sympson-hetter with ``sh_params``) and the ``estimator`` (eap | map | mle | wle).
    ``mode="loft"`` assembles a ``max_items`` form per examinee (:func:`assemble_loft` with
    ``content_targets`` as content shares, ``target_information``, ``tolerance`` and
    ``sh_params``) and estimates ability from the whole pattern.

    ``max_exposure`` (``r_max`` < 1) adds the running exposure cap of
    :mod:`cat_engine.exposure` to either mode, with the examinees simulated so far as the exam
    window: examinee ``j`` (0-based) sees only items with ``(count + 1) / (j + 1) <= r_max``, so
    every item ends with an exposure rate of at most ``r_max`` (after the first ``1 / r_max``
    examinees, whose tests fall back to the least exposed items).  In CAT mode ``cap_ramp``
    ``(f, S)`` tightens it for the early items of each test (progressive cap,
    :func:`cat_engine.exposure.progressive_cap`; None = off).  In LOFT mode, when fewer than
    ``max_items`` items are under the cap, the cap is dropped for that form.

    ``prices`` (``(n,)`` exposure prices, :func:`cat_engine.exposure.calibrate_exposure_prices`)
    make the CAT selector rank items by ``I_i(theta_hat) - prices_i``; None = plain information.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    thetas = np.atleast_1d(np.asarray(thetas, dtype=np.float64))
    if thetas.ndim != 1 or thetas.size == 0:
        raise ValueError("thetas must be a non-empty list of abilities")
    if not np.isfinite(thetas).all():
        raise ValueError("true abilities must be finite numbers")
    if max_items > len(bank):
        raise ValueError(f"max_items ({max_items}) exceeds the bank size ({len(bank)})")
    config = CatConfig(
        stopping=StoppingRule(min_items=min_items, max_items=max_items, se_target=se_target,
                              theta_cut=theta_cut),
        selector=selector, k=k, estimator=estimator, content_targets=content_targets,
        sh_params=sh_params, max_exposure=max_exposure, cap_ramp=cap_ramp,
    )
    start = time.perf_counter()
    n = thetas.size
    est_theta, est_se, tests = np.empty(n), np.empty(n), []
    counts = np.zeros(len(bank), dtype=np.intp)  # tests so far that contained each item
    # One examinee at a time: each test depends on that examinee's own answers; the work inside
    # a step is vectorized over the bank.
    for j, true_theta in enumerate(thetas):
        if mode == "cat":
            state = start_attempt(config)
            while (item := next_item(state, bank, config, rng=rng, exposure_counts=counts,
                                     n_tests=j, prices=prices)) is not None:
                u = int(rng.random() < _probability(true_theta, bank.a[item], bank.b[item],
                                                     bank.c[item]))
                state = record_response(state, bank, item, u, config)
            form, result = np.array(state.items, dtype=np.intp), state.estimate
        else:
            capped = capped_exclusion(np.zeros(len(bank), dtype=bool), counts, j, max_exposure)
            form = assemble_loft(bank, max_items, rng=rng, target_information=target_information,
                                 content_shares=content_targets, tolerance=tolerance,
                                 sh_params=sh_params,
                                 excluded=capped if (~capped).sum() >= max_items else None)
            p = _probability(true_theta, bank.a[form], bank.b[form], bank.c[form])
            u = (rng.random(form.size) < p).astype(float)
            result = estimate(u, bank.a[form], bank.b[form], bank.c[form], estimator)
        est_theta[j], est_se[j] = result.theta, result.se
        tests.append(form)
        counts[form] += 1
    return SimulationResult(
        true_theta=thetas, theta=est_theta, se=est_se,
        lengths=np.array([t.size for t in tests]), tests=tests,
        exposure=exposure_rates(tests, len(bank)), theta_cut=theta_cut,
        seconds=time.perf_counter() - start,
    )
