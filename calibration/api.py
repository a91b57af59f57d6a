"""``calibrate``: the one call the CLI and the server use.

Steps: drop items everyone answered the same way (reported in ``excluded``), estimate (native
MML-EM or girth), link to the bank through the anchors when given (fixed-parameter calibration;
anchors found drifting are set free and the calibration is repeated once without them), and
compute the item analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from calibration.analysis import ItemStatistics, constant_items, item_statistics
from calibration.data import ResponseData
from calibration.girth_engine import fit_girth
from calibration.linking import (
    DRIFT_THRESHOLD,
    DriftReport,
    anchor_drift,
    finite_or_none,
    fixed_from_bank,
)
from calibration.mml import MODELS, N_QUAD, FixedItems, Priors, fit_mml
from cat_engine.irt import ItemBank

ENGINES = ("native", "girth")


@dataclass(frozen=True)
class CalibrationResult:
    """Item estimates (arrays of shape (n_items,), in the order of ``item_ids``), fit and
    the run's summary.  ``anchor`` marks items held at their bank values (their SEs are NaN).
    """

    model: str
    engine: str
    item_ids: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray
    anchor: np.ndarray
    stats: ItemStatistics
    loglik: float
    iterations: int | None
    converged: bool | None
    population_mean: float
    population_sd: float
    n_persons: int
    n_answers: int
    excluded: dict[str, str]
    drift: DriftReport | None

    def to_records(self) -> list[dict]:
        """Bank-format records (id, a, b, c) plus se_a, se_b, se_c, anchor and fit."""
        s = self.stats
        return [
            {
                "id": str(self.item_ids[j]),
                "a": float(self.a[j]),
                "b": float(self.b[j]),
                "c": float(self.c[j]),
                "se_a": finite_or_none(self.se_a[j]),
                "se_b": finite_or_none(self.se_b[j]),
                "se_c": finite_or_none(self.se_c[j]),
                "anchor": bool(self.anchor[j]),
                "fit": {
                    "n": int(s.n[j]),
                    "p": finite_or_none(s.p[j]),
                    "r_pbis": finite_or_none(s.r_pbis[j]),
                    "infit": finite_or_none(s.infit[j]),
                    "outfit": finite_or_none(s.outfit[j]),
                    "sx2": finite_or_none(s.sx2[j]),
                    "sx2_df": finite_or_none(s.sx2_df[j]),
                    "sx2_p": finite_or_none(s.sx2_p[j]),
                    "flags": list(s.flags[j]),
                },
            }
            for j in range(len(self.item_ids))
        ]

    def bank_records(self) -> list[dict]:
        """Plain bank records ``{"id", "a", "b", "c"}`` of the newly estimated (non-anchor)
        items: what the server accepts into the bank (pretest -> calibrated)."""
        return [
            {"id": str(i), "a": float(a), "b": float(b), "c": float(c)}
            for i, a, b, c, fixed in zip(
                self.item_ids, self.a, self.b, self.c, self.anchor, strict=True
            )
            if not fixed
        ]

    def summary(self) -> dict:
        """Run-level figures (JSON-ready)."""
        return {
            "model": self.model,
            "engine": self.engine,
            "persons": self.n_persons,
            "items": int(len(self.item_ids)),
            "answers": self.n_answers,
            "loglik": float(self.loglik),
            "iterations": self.iterations,
            "converged": self.converged,
            "population_mean": self.population_mean,
            "population_sd": self.population_sd,
            "anchors": int(self.anchor.sum()),
            "excluded": dict(self.excluded),
            "flagged": {
                str(i): f for i, f in zip(self.item_ids, self.stats.flags, strict=True) if f
            },
            "drift": None if self.drift is None else self.drift.to_records(),
        }


def calibrate(
    responses: ResponseData,
    model: str = "2pl",
    *,
    engine: str = "native",
    anchors: ItemBank | Iterable[Mapping] | None = None,
    priors: Priors | None = None,
    drift_threshold: float = DRIFT_THRESHOLD,
    max_iter: int = 500,
    tol: float = 1e-4,
    n_quad: int = N_QUAD,
    progress: Callable[[int, float, float], None] | None = None,
) -> CalibrationResult:
    """Calibrate the items of ``responses``.

    Parameters
    ----------
    responses : ResponseData, e.g. ``ResponseData.from_long(person, item, response)``.
    model : ``rasch`` (a = 1), ``1pl`` (common a), ``2pl`` or ``3pl``.
    engine : ``native`` (sparse MML-EM) or ``girth`` (complete data, no anchors, no SEs).
    anchors : bank items (an ItemBank or its records ``{"id","a","b","c"}``) held at their
        values; their ids are matched with the response data's item ids.
    priors : see :class:`calibration.mml.Priors`; default
        :func:`calibration.mml.default_priors` (2PL/3PL: floating prior on log a; 3PL: Beta(5, 17)
        on c); ``Priors()`` for plain maximum likelihood.
    drift_threshold : |delta b| above which an anchor may be reported as drifting.
    max_iter, tol, n_quad, progress : see :func:`calibration.mml.fit_mml`.

    Raises
    ------
    ValueError
        Unknown model or engine, no anchor in the data, nothing left to calibrate, or an engine
        that cannot run this job (:class:`calibration.girth_engine.GirthUnavailable`).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if anchors is not None and not isinstance(anchors, ItemBank):
        anchors = ItemBank.from_records(anchors)
    if anchors is not None and engine != "native":
        raise ValueError("anchored (fixed-parameter) calibration needs --engine native")

    is_anchor = (
        np.isin(responses.item_ids, anchors.ids) if anchors is not None
        else np.zeros(responses.n_items, bool)
    )
    constant = constant_items(responses)
    drop = constant & ~is_anchor
    n_answered, n_right = responses.item_counts()
    excluded = {
        str(i): _constant_reason(n_answered[j], n_right[j])
        for j, i in enumerate(responses.item_ids)
        if drop[j]
    }
    if drop.all():
        raise ValueError("no item can be calibrated: every item was answered the same way by all")
    data = responses.subset_items(~drop) if drop.any() else responses
    if data.n_persons < 2:
        raise ValueError("at least two persons with answers are needed")

    options = dict(priors=priors, n_quad=n_quad, max_iter=max_iter, tol=tol, progress=progress)
    drift = None
    if anchors is None:
        fit = fit_girth(data, model) if engine == "girth" else fit_mml(data, model, **options)
        fixed_mask = np.zeros(data.n_items, bool)
    else:
        fixed = fixed_from_bank(anchors, data.item_ids)
        if not fixed.mask.any():
            raise ValueError(
                f"none of the {len(anchors.ids)} anchor items appear in the responses"
            )
        if fixed.mask.all():
            raise ValueError("every item in the responses is an anchor: nothing to calibrate")
        fit, drift, fixed = _linked_fit(data, model, fixed, constant_items(data),
                                        drift_threshold, options)
        fixed_mask = fixed.mask

    stats = item_statistics(
        data, model, fit.a, fit.b, fit.c, fit.theta_eap, (fit.population_mean, fit.population_sd)
    )
    return CalibrationResult(
        model=model, engine=engine, item_ids=data.item_ids, a=fit.a, b=fit.b, c=fit.c,
        se_a=fit.se_a, se_b=fit.se_b, se_c=fit.se_c, anchor=fixed_mask, stats=stats,
        loglik=fit.loglik, iterations=fit.iterations, converged=fit.converged,
        population_mean=fit.population_mean, population_sd=fit.population_sd,
        n_persons=data.n_persons, n_answers=data.n_answers, excluded=excluded, drift=drift,
    )


def _linked_fit(data, model, fixed, constant, drift_threshold, options):
    """FPC, drift check of the (non-constant) anchors, and one refit without drifting ones."""
    fit = fit_mml(data, model, fixed=fixed, estimate_population=True, **options)
    checkable = FixedItems(fixed.mask & ~constant, fixed.a, fixed.b, fixed.c)
    if not checkable.mask.any():
        return fit, None, fixed
    quiet = {k: v for k, v in options.items() if k in ("priors", "n_quad")}
    drift = anchor_drift(data, model, checkable, fit, threshold=drift_threshold, **quiet)
    drifting = np.isin(data.item_ids, drift.ids[drift.flagged])
    if drifting.any() and (fixed.mask & ~drifting).any():
        fixed = FixedItems(fixed.mask & ~drifting, fixed.a, fixed.b, fixed.c)
        fit = fit_mml(data, model, fixed=fixed, estimate_population=True, **options)
    return fit, drift, fixed


def _constant_reason(n_answered: float, n_right: float) -> str:
    if n_answered == 0:
        return "nobody answered it"
    kind = "correct" if n_right == n_answered else "wrong"
    return f"all {int(n_answered)} answers were {kind}"
