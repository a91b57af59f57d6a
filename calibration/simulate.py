"""Simulated response data from known item parameters (for recovery tests and benchmarks)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from calibration.data import ResponseData


def simulate_responses(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    theta: np.ndarray,
    rng: np.random.Generator,
    answers_per_person: int | None = None,
) -> ResponseData:
    """Draw 0/1 responses with P = c + (1 - c) / (1 + exp(-a (theta - b))).

    With ``answers_per_person`` each person answers that many items chosen at random without
    replacement (sparse data, built answer by answer so memory stays O(answers)); otherwise
    everyone answers every item.
    """
    a, b, c, theta = (np.asarray(v, dtype=float) for v in (a, b, c, theta))
    n_items, n_persons = len(a), len(theta)
    if answers_per_person is None:
        p = c + (1 - c) * expit(a * (theta[:, None] - b))
        x = (rng.random(p.shape) < p).astype(float)
        return ResponseData.from_matrix(x)
    if not 0 < answers_per_person <= n_items:
        raise ValueError("answers_per_person must be between 1 and the number of items")
    # k distinct random items per person: the k smallest of n_items random keys
    keys = rng.random((n_persons, n_items)) if n_items * n_persons <= 5e7 else None
    if keys is not None:
        items = np.argpartition(keys, answers_per_person - 1, axis=1)[:, :answers_per_person]
    else:
        items = np.stack(
            [rng.choice(n_items, answers_per_person, replace=False) for _ in range(n_persons)]
        )
    persons = np.repeat(np.arange(n_persons), answers_per_person)
    items = items.ravel()
    p = c[items] + (1 - c[items]) * expit(a[items] * (theta[persons] - b[items]))
    x = (rng.random(len(p)) < p).astype(int)
    return ResponseData.from_indices(persons, items, x, _ids("p", n_persons), _ids("item", n_items))


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{k + 1}" for k in range(n)])


def random_items(n_items: int, rng: np.random.Generator, guessing: bool = False):
    """Typical operational parameters: a ~ U(0.7, 2.0), b ~ N(0, 1) clipped to [-2.5, 2.5],
    c ~ U(0.1, 0.3) for the 3PL (else 0)."""
    a = rng.uniform(0.7, 2.0, n_items)
    b = np.clip(rng.normal(0.0, 1.0, n_items), -2.5, 2.5)
    c = rng.uniform(0.1, 0.3, n_items) if guessing else np.zeros(n_items)
    return a, b, c
