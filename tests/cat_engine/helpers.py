"""Independent brute-force references for the cat_engine tests (no cat_engine imports)."""

import numpy as np

#: The brute-force grid: 10,001 points on [-6, 6] (step 0.0012).
FINE = np.linspace(-6.0, 6.0, 10_001)


def p3(theta, a, b, c):
    """3PL probability written out independently; theta (m, 1) against items (n,)."""
    return c + (1 - c) * np.exp(a * (theta - b)) / (1 + np.exp(a * (theta - b)))


def info_fd(theta, a, b, c):
    """Item information ``P'^2 / (P Q)`` with ``P'`` by central differences; (m, 1) x (n,)."""
    h = 1e-6
    p = p3(theta, a, b, c)
    d1 = (p3(theta + h, a, b, c) - p3(theta - h, a, b, c)) / (2 * h)
    return d1**2 / (p * (1 - p))


def loglik(theta, u, a, b, c):
    p = p3(np.asarray(theta, dtype=float)[..., None], a, b, c)
    return (u * np.log(p) + (1 - u) * np.log(1 - p)).sum(axis=-1)


def random_items(rng, k, model="3pl"):
    a = rng.uniform(0.5, 2.5, k) if model != "1pl" else np.ones(k)
    b = rng.normal(0, 1.2, k)
    c = rng.uniform(0.0, 0.3, k) if model == "3pl" else np.zeros(k)
    return a, b, c
