import numpy as np
import pytest
from helpers import FINE, loglik, p3, random_items

from cat_engine.estimation import estimate
from cat_engine.grid import THETA_MAX, THETA_MIN
from cat_engine.irt import GridTable

PATTERNS = 25


def _cases(seed):
    """Random response patterns (2PL and 3PL, 3 to 40 items) plus all-correct / all-wrong ones."""
    rng = np.random.default_rng(seed)
    for j in range(PATTERNS):
        model = "3pl" if j % 2 else "2pl"
        k = int(rng.integers(3, 41))
        a, b, c = random_items(rng, k, model)
        theta = rng.normal()
        u = (rng.random(k) < p3(theta, a, b, c)).astype(float)
        if j == 0:
            u[:] = 1
        elif j == 1:
            u[:] = 0
        yield u, a, b, c


def _posterior(u, a, b, c, mean=0.0, sd=1.0):
    ll = loglik(FINE, u, a, b, c)
    log_post = ll - 0.5 * ((FINE - mean) / sd) ** 2
    return ll, np.exp(log_post - log_post.max())


@pytest.mark.parametrize("prior", [(0.0, 1.0), (0.5, 1.5)])
def test_eap_matches_10001_point_grid(prior):
    for u, a, b, c in _cases(11):
        _, w = _posterior(u, a, b, c, *prior)
        mean = np.trapezoid(w * FINE, FINE) / np.trapezoid(w, FINE)
        sd = np.sqrt(np.trapezoid(w * (FINE - mean) ** 2, FINE) / np.trapezoid(w, FINE))
        est = estimate(u, a, b, c, "eap", prior_mean=prior[0], prior_sd=prior[1])
        # tolerance 1e-3 (acceptance): 121-point quadrature vs 10,001-point trapezoid
        assert est.theta == pytest.approx(mean, abs=1e-3)
        assert est.se == pytest.approx(sd, abs=1e-3)


@pytest.mark.parametrize("model", ["1pl", "2pl", "3pl"])
def test_grid_table_eap_equals_estimate_and_brute_force(model):
    """The bank table's EAP is the generic one (same element formulas, tolerance 1e-12 for the
    order of the additions) on random subsets of a bank, empty ones and all-correct included;
    and it is within the acceptance 1e-3 of the 10,001-point posterior mean."""
    rng = np.random.default_rng(21)
    a, b, c = random_items(rng, 300, model)
    table = GridTable.of(a, b, c)
    assert len(table) == 300
    for j in range(60):
        k = 0 if j == 0 else int(rng.integers(1, 41))
        at = rng.choice(300, k, replace=False)
        u = (rng.random(k) < p3(rng.normal(), a[at], b[at], c[at])).astype(np.int64)
        if j == 1:
            u[:] = 1
        prior = (0.0, 1.0) if j % 3 else (0.4, 1.3)
        got = table.eap(at, u, *prior)
        want = estimate(u, a[at], b[at], c[at], "eap", prior_mean=prior[0], prior_sd=prior[1])
        assert got.theta == pytest.approx(want.theta, abs=1e-12)
        assert got.se == pytest.approx(want.se, abs=1e-12)
        _, w = _posterior(u, a[at], b[at], c[at], *prior)
        assert got.theta == pytest.approx(np.trapezoid(w * FINE, FINE) / np.trapezoid(w, FINE),
                                          abs=1e-3)


def test_grid_table_rejects_bad_input():
    table = GridTable.of([1.0, 1.5], [0.0, 1.0], [0.0, 0.2])
    with pytest.raises(ValueError, match="item indices"):
        table.eap([0, 2], [1, 0])
    with pytest.raises(ValueError, match="item indices"):
        table.eap([-1], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        table.eap([0, 1], [1, 2])
    with pytest.raises(ValueError, match="mismatched lengths"):
        table.eap([0, 1], [1])
    with pytest.raises(ValueError, match="prior_sd"):
        table.eap([0], [1], prior_sd=-1)
    with pytest.raises(ValueError, match="discrimination"):
        GridTable.of([-1.0], [0.0], [0.0])


def test_map_matches_grid_argmax():
    for u, a, b, c in _cases(12):
        ll, w = _posterior(u, a, b, c)
        est = estimate(u, a, b, c, "map")
        # tolerance 1e-3: the brute-force grid step is 0.0012, so its argmax is within 0.0006
        assert est.theta == pytest.approx(FINE[np.argmax(w)], abs=1e-3)


def test_mle_matches_grid_argmax_and_bounds():
    for u, a, b, c in _cases(13):
        ll = loglik(FINE, u, a, b, c)
        est = estimate(u, a, b, c, "mle")
        # tolerance 1e-3: grid step 0.0012 (argmax within 0.0006)
        assert est.theta == pytest.approx(FINE[np.argmax(ll)], abs=1e-3)
    a, b, c = np.array([1.0, 1.5]), np.array([0.0, 0.5]), np.zeros(2)
    assert estimate([1, 1], a, b, c, "mle").theta == pytest.approx(THETA_MAX, abs=1e-3)
    assert estimate([0, 0], a, b, c, "mle").theta == pytest.approx(THETA_MIN, abs=1e-3)


def _warm_root(u, a, b, c):
    """Brute-force WLE: sign change of S + J/(2I) on the fine grid, every derivative numerical."""
    h = 1e-5
    p = p3(FINE[:, None], a, b, c)
    d1 = (p3(FINE[:, None] + h, a, b, c) - p3(FINE[:, None] - h, a, b, c)) / (2 * h)
    d2 = (p3(FINE[:, None] + h, a, b, c) - 2 * p + p3(FINE[:, None] - h, a, b, c)) / h**2
    score = (loglik(FINE + h, u, a, b, c) - loglik(FINE - h, u, a, b, c)) / (2 * h)
    info = (d1**2 / (p * (1 - p))).sum(axis=1)
    j = (d1 * d2 / (p * (1 - p))).sum(axis=1)
    g = score + j / (2 * info)
    down = np.flatnonzero((g[:-1] > 0) & (g[1:] <= 0))
    roots = FINE[down] - g[down] * (FINE[down + 1] - FINE[down]) / (g[down + 1] - g[down])
    return roots[np.argmax(loglik(roots, u, a, b, c))]


def test_wle_matches_brute_force_root_of_warm_equation():
    for u, a, b, c in _cases(14):
        est = estimate(u, a, b, c, "wle")
        # tolerance 1e-3: numerical derivatives (h = 1e-5) and linear interpolation on the grid
        assert est.theta == pytest.approx(_warm_root(u, a, b, c), abs=1e-3)
        assert est.se == pytest.approx(1 / np.sqrt(sum(
            (np.gradient(p3(FINE[:, None], a, b, c), FINE, axis=0) ** 2
             / (p3(FINE[:, None], a, b, c) * (1 - p3(FINE[:, None], a, b, c))))[
                np.argmin(np.abs(FINE - est.theta))])), rel=2e-2)


def test_wle_finite_for_extreme_2pl_patterns():
    a, b, c = np.array([1.0, 1.2, 0.8]), np.array([-0.5, 0.0, 0.7]), np.zeros(3)
    hi, lo = estimate([1, 1, 1], a, b, c, "wle"), estimate([0, 0, 0], a, b, c, "wle")
    assert 0 < hi.theta < THETA_MAX and THETA_MIN < lo.theta < 0


@pytest.mark.parametrize(
    "responses, message",
    [([1, 2, 0], "0 or 1"), ([1, 0], "mismatched lengths"), ([1, np.nan, 0], "0 or 1")],
)
def test_bad_responses_raise(responses, message):
    a, b, c = np.ones(3), np.zeros(3), np.zeros(3)
    for method in ("eap", "map", "mle", "wle"):
        with pytest.raises(ValueError, match=message):
            estimate(responses, a, b, c, method)


def test_bad_method_and_prior_raise():
    with pytest.raises(ValueError, match="unknown estimation method"):
        estimate([1], [1.0], [0.0], [0.0], "ml")
    with pytest.raises(ValueError, match="prior_sd"):
        estimate([1], [1.0], [0.0], [0.0], prior_sd=0)
    with pytest.raises(ValueError, match="at least one response"):
        estimate([], [], [], [], "mle")
