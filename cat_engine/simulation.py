"""Simulated examinees through the engine's CAT step or LOFT assembly; recovery and exposure.

The examinees take their tests one after another in one exam window: examinee ``j``
(0-based) sees the window's exposure of the ``j`` tests before it
(:class:`cat_engine.config.ExposureWindow`), so the running cap and the least-exposed rule act
as in a live exam.  Each examinee has an attempt seed; the item at position ``p`` of its CAT is
chosen by :func:`cat_engine.assembly.next_item` with :func:`cat_engine.assembly.step_rng`
``(seed, p)``, a LOFT form by :func:`cat_engine.assembly.assemble_form` with
``np.random.default_rng(seed)``, so the tests are those a live exam gives for the same seeds,
answers and window.

Answers are given (``responses``: what participants answered) or drawn: examinee ``j`` with
true ability ``theta_j`` answers item ``i`` correctly when a uniform draw is below
``P_i(theta_j)``.  The summary figures over ``N`` examinees are

* ``rmse = sqrt(mean (theta_hat - theta)^2)``, ``bias = mean (theta_hat - theta)`` (with true
  abilities);
* ``mean_length``: mean number of items given;
* ``max_exposure`` and ``mean_overlap`` (see :mod:`cat_engine.exposure`);
* ``classification_accuracy`` (with ``theta_cut`` and true abilities): share with
  ``(theta_hat >= theta_cut) == (theta >= theta_cut)``.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .assembly import assemble_form, next_item, record_response, start_attempt, step_rng
from .config import CatConfig, ExposureWindow
from .estimation import estimate
from .exposure import exposure_rates, mean_overlap
from .irt import ItemBank, _probability

__all__ = ["SimulationResult", "simulate", "generate_bank", "MODES", "MODELS"]

MODES = ("cat", "loft")
MODELS = ("1pl", "2pl", "3pl")
#: Attempt seeds drawn when none are given: ``rng.integers(0, SEED_BOUND, size=N)``.
SEED_BOUND = 2**31


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
    """Per-examinee outcomes (arrays of shape ``(N,)``) and the tests given.

    ``true_theta`` is None when the answers were given without true abilities; the figures
    that need them (``rmse``, ``bias``, ``classification_accuracy``) are None then.
    ``tests`` holds each examinee's items (bank indices) in the order given.
    """

    true_theta: np.ndarray | None
    theta: np.ndarray
    se: np.ndarray
    lengths: np.ndarray
    tests: list[np.ndarray]
    exposure: np.ndarray  # (n_items,) share of tests each item appeared in
    theta_cut: float | None
    seconds: float

    @property
    def rmse(self) -> float | None:
        if self.true_theta is None:
            return None
        return float(np.sqrt(np.mean((self.theta - self.true_theta) ** 2)))

    @property
    def bias(self) -> float | None:
        if self.true_theta is None:
            return None
        return float(np.mean(self.theta - self.true_theta))

    @property
    def classification_accuracy(self) -> float | None:
        if self.theta_cut is None or self.true_theta is None:
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


def _examinees(thetas, responses, attempt_seeds, rng: np.random.Generator):
    """Checked ``(true thetas or None, responses or None, attempt seeds)`` of ``N`` examinees."""
    if thetas is None and responses is None:
        raise ValueError("give the true abilities (thetas), the responses, or both")
    if thetas is not None:
        thetas = np.atleast_1d(np.asarray(thetas, dtype=np.float64))
        if thetas.ndim != 1 or thetas.size == 0:
            raise ValueError("thetas must be a non-empty list of abilities")
        if not np.isfinite(thetas).all():
            raise ValueError("true abilities must be finite numbers")
    if responses is not None:
        responses = list(responses)
        if not responses:
            raise ValueError("responses must hold one list of answers per examinee")
        if thetas is not None and thetas.size != len(responses):
            raise ValueError(f"mismatched lengths: {len(responses)} response lists for "
                             f"{thetas.size} true abilities")
    n = thetas.size if thetas is not None else len(responses)
    if attempt_seeds is None:
        seeds = rng.integers(0, SEED_BOUND, size=n).tolist()
    else:
        try:
            seeds = [operator.index(x) for x in attempt_seeds]
        except TypeError:
            raise ValueError("attempt seeds must be integers") from None
        if len(seeds) != n:
            raise ValueError(f"mismatched lengths: {len(seeds)} attempt seeds for {n} "
                             "examinees")
        if min(seeds) < 0:
            raise ValueError("attempt seeds must be >= 0")
    return thetas, responses, seeds


def _given_answer(responses, j: int, k: int) -> int:
    """Examinee ``j``'s answer to the ``k``-th item (0-based) given."""
    answers = responses[j]
    if k >= len(answers):
        raise ValueError(f"the responses of examinee {j} ran out: {len(answers)} given, "
                         f"the test needs item {k + 1}")
    u = answers[k]
    if u not in (0, 1):
        raise ValueError(f"responses must be 0 or 1 (examinee {j}, item {k + 1}: {u!r})")
    return int(u)


def simulate(
    bank: ItemBank,
    thetas,
    *,
    config: CatConfig,
    rng: np.random.Generator,
    mode: str = "cat",
    responses: Sequence[Sequence[int]] | None = None,
    attempt_seeds: Sequence[int] | None = None,
    target_information=None,
    tolerance: float = 0.10,
) -> SimulationResult:
    """Simulate one test per examinee through the engine (see module doc).

    Parameters
    ----------
    bank : ItemBank
    thetas : (N,) true abilities, or None when ``responses`` are given
    config : the CAT (stopping rule, selection rule, estimator, prior); in LOFT mode the form
        length is ``config.stopping.max_items`` and ``config.selection`` decides the eligible
        items and content quotas (:func:`cat_engine.assembly.assemble_form`)
    rng : numpy Generator: the attempt seeds when none are given (drawn first,
        ``rng.integers(0, 2**31, size=N)``), then the answers when none are given
    mode : ``"cat"`` (adaptive, :func:`cat_engine.assembly.next_item`) or ``"loft"`` (a fixed
        form per examinee, ability estimated from the whole pattern)
    responses : ``responses[j][k]`` (0/1) is examinee ``j``'s answer to the ``k``-th item given
        (items past the test's end are ignored); None = drawn by the 3PL model at ``thetas[j]``
    attempt_seeds : (N,) ints >= 0, examinee ``j``'s attempt seed; None = drawn from ``rng``
    target_information, tolerance : LOFT information target (:func:`assemble_form`)

    Returns
    -------
    SimulationResult
        ``tests`` are the item sequences (bank indices, in order); ``exposure`` the share of
        the ``N`` tests each item appeared in.

    Raises
    ------
    ValueError
        Unknown mode, bad abilities, seeds or responses (a list that runs out, an answer other
        than 0/1), a test longer than the bank, or no eligible item.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    max_items = config.stopping.max_items
    if max_items > len(bank):
        raise ValueError(f"max_items ({max_items}) exceeds the bank size ({len(bank)})")
    thetas, responses, seeds = _examinees(thetas, responses, attempt_seeds, rng)
    start = time.perf_counter()
    n = len(seeds)
    est_theta, est_se, tests = np.empty(n), np.empty(n), []
    counts = np.zeros(len(bank), dtype=np.intp)  # tests so far that contained each item
    # One examinee at a time: each test depends on the window's exposure before it and on the
    # examinee's own answers; the work inside a step is vectorized over the bank.
    for j, seed in enumerate(seeds):
        window = ExposureWindow(counts, j)
        if mode == "cat":
            state = start_attempt(config)
            while (item := next_item(state, bank, config, rng=step_rng(seed, len(state.items) + 1),
                                     window=window)) is not None:
                if responses is not None:
                    u = _given_answer(responses, j, len(state.items))
                else:
                    u = int(rng.random() < _probability(thetas[j], bank.a[item], bank.b[item],
                                                        bank.c[item]))
                state = record_response(state, bank, item, u, config)
            form, result = np.array(state.items, dtype=np.intp), state.estimate
        else:
            form = assemble_form(bank, max_items, config.selection,
                                 rng=np.random.default_rng(seed), window=window,
                                 target_information=target_information, tolerance=tolerance)
            if responses is not None:
                u = np.array([_given_answer(responses, j, k) for k in range(form.size)],
                             dtype=float)
            else:
                p = _probability(thetas[j], bank.a[form], bank.b[form], bank.c[form])
                u = (rng.random(form.size) < p).astype(float)
            result = estimate(u, bank.a[form], bank.b[form], bank.c[form], config.estimator,
                              prior_mean=config.prior_mean, prior_sd=config.prior_sd)
        est_theta[j], est_se[j] = result.theta, result.se
        tests.append(form)
        counts[form] += 1
    return SimulationResult(
        true_theta=thetas, theta=est_theta, se=est_se,
        lengths=np.array([t.size for t in tests]), tests=tests,
        exposure=exposure_rates(tests, len(bank)), theta_cut=config.stopping.theta_cut,
        seconds=time.perf_counter() - start,
    )
