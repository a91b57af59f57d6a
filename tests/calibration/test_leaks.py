"""The leak monitor (calibration/leaks.py) against brute force and simulated truth."""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from calibration.leaks import (
    benjamini_hochberg,
    item_test,
    leak_scan,
    predictive_probabilities,
)


def _p(theta, a, b, c):
    return c + (1 - c) / (1 + np.exp(-a * (theta - b)))


def test_predictive_probability_is_the_leave_one_out_posterior_mean_by_quadrature():
    rng = np.random.default_rng(1)
    n = 12
    a, b = rng.uniform(0.7, 2.0, n), rng.normal(0, 1, n)
    c = np.where(np.arange(n) % 3 == 0, 0.2, 0.0)
    x = (rng.random(n) < 0.6).astype(int)
    got = predictive_probabilities(a, b, c, np.zeros(n, dtype=int), x)
    for i in range(n):
        def like(t, i=i):
            p = _p(t, np.delete(a, i), np.delete(b, i), np.delete(c, i))
            xi = np.delete(x, i)
            return np.prod(p ** xi * (1 - p) ** (1 - xi)) * stats.norm.pdf(t)
        num = integrate.quad(lambda t, i=i: _p(t, a[i], b[i], c[i]) * like(t), -8, 8)[0]
        den = integrate.quad(like, -8, 8)[0]
        # The grid of 121 points on [-6, 6] against adaptive quadrature: 1e-4.
        assert abs(got[i] - num / den) < 1e-4, i


def test_benjamini_hochberg_matches_its_definition():
    rng = np.random.default_rng(2)
    for _ in range(200):
        m = int(rng.integers(1, 40))
        p = np.where(rng.random(m) < 0.3, rng.random(m) * 0.01, rng.random(m))
        q = 0.1
        ranked = np.sort(p)
        ks = [k for k in range(1, m + 1) if ranked[k - 1] <= k * q / m]
        expected = p <= ranked[max(ks) - 1] if ks else np.zeros(m, dtype=bool)
        assert (benjamini_hochberg(p, q) == expected).all()


def _simulate(rng, n_items: int, n_people: int, per_person: int, leaked: float = 0.0,
              n_leaked: int = 0):
    """Examinees theta ~ N(0, 1) answering random items by the 2PL; a share ``leaked`` of
    them knows the keys of the ``n_leaked`` items of middle difficulty (an easy item leaked
    looks like itself: it was answered right anyway)."""
    a, b = rng.uniform(0.8, 2.0, n_items), rng.normal(0, 1, n_items)
    leaked = {int(j): leaked for j in np.argsort(np.abs(b))[:n_leaked]}
    items, attempts, correct = [], [], []
    for person in range(n_people):
        theta = rng.normal()
        for j in rng.choice(n_items, per_person, replace=False):
            right = rng.random() < _p(theta, a[j], b[j], 0.0)
            if j in leaked and rng.random() < leaked[j]:
                right = True
            items.append(j)
            attempts.append(person)
            correct.append(int(right))
    items = np.array(items)
    return items, np.array(attempts), np.array(correct), a[items], b[items], set(leaked)


def test_intact_items_give_standard_normal_scores_and_are_rarely_flagged():
    rng = np.random.default_rng(3)
    items, attempts, correct, a, b, _ = _simulate(rng, 60, 1500, 15)
    tests = leak_scan(items, attempts, correct, a, b, np.zeros(items.size))
    # Each item's Z over all its ~375 answers: standard normal under the model (60 items:
    # mean within 0.4, SD within 0.75-1.3 of a N(0, 1) sample's).
    predicted = predictive_probabilities(a, b, np.zeros(items.size), attempts, correct)
    z = []
    for j in np.unique(items):
        mine = items == j
        x, p = correct[mine], predicted[mine]
        z.append((x - p).sum() / np.sqrt((p * (1 - p)).sum()))
    assert abs(np.mean(z)) < 0.4 and 0.75 < np.std(z) < 1.3, (np.mean(z), np.std(z))
    assert sum(t.flagged for t in tests) <= 1


def test_a_leaked_item_is_flagged_with_its_evidence():
    rng = np.random.default_rng(4)
    items, attempts, correct, a, b, leaked = _simulate(rng, 60, 1500, 15, 0.5, 2)
    tests = leak_scan(items, attempts, correct, a, b, np.zeros(items.size))
    flagged = {t.item: t for t in tests if t.flagged}
    assert leaked <= set(flagged)
    # FDR 0.1 bounds the expected share of intact items among the flagged, not each run's
    # count (here two weak ones come along); their evidence is far below the leaks'.
    false = [t.z for t in flagged.values() if t.item not in leaked]
    assert len(false) <= 2 and max(false, default=0) < 4
    for j in leaked:  # half of ~375 answers right by the key: far above the prediction
        t = flagged[j]
        assert t.observed > t.expected + 0.2 and t.z > 8 and t.answers > 300


def test_the_window_finds_a_leak_that_began_late():
    # 400 intact answers, then 150 of which 60 % know the key: the whole history dilutes
    # the signal, the most recent window does not.
    rng = np.random.default_rng(5)
    p = np.full(550, 0.5)
    x = (rng.random(550) < p).astype(int)
    late = np.arange(550) >= 400
    x[late & (rng.random(550) < 0.6)] = 1
    t = item_test(1, x, p)
    assert t.window in (100, 200) and t.z > 5 and t.p_value < 1e-5


def test_with_no_leak_a_flag_comes_in_at_most_q_of_the_runs():
    # Benjamini-Hochberg under the global null controls the chance of any flag at q = 0.1;
    # 40 runs of 40 intact items: at most 8 runs with a flag (the 95 % binomial bound is 8).
    runs = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        items, attempts, correct, a, b, _ = _simulate(rng, 40, 400, 12)
        runs += any(t.flagged for t in leak_scan(items, attempts, correct, a, b,
                                                 np.zeros(items.size)))
    assert runs <= 8, runs
