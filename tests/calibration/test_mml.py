"""The EM engine against independent truth: brute-force integration, simulated examinees with
known parameters, and girth on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from calibration import Priors, ResponseData, calibrate
from calibration.mml import fit_mml, posterior
from calibration.simulate import random_items, simulate_responses


def rmse(x, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def test_marginal_loglik_equals_brute_force_integral():
    """log L = sum_i log int prod_j P_j(t)^x (1-P_j(t))^(1-x) phi(t) dt, by adaptive quadrature,
    with a missing answer simply left out of the product.  Tolerance 1e-6 relative."""
    rng = np.random.default_rng(3)
    a, b, c = np.array([0.8, 1.5, 2.0]), np.array([-1.0, 0.2, 1.1]), np.array([0.0, 0.2, 0.1])
    m = (rng.random((6, 3)) < 0.6).astype(float)
    m[0, 1] = m[3, 2] = np.nan
    data = ResponseData.from_matrix(m)
    ours, _, _ = posterior(data, a, b, c, n_quad=121)

    def person(row):
        def f(t):
            p = c + (1 - c) / (1 + np.exp(-a * (t - b)))
            seen = ~np.isnan(row)
            return np.prod(np.where(row[seen] == 1, p[seen], 1 - p[seen])) * norm.pdf(t)

        return np.log(integrate.quad(f, -10, 10, epsabs=1e-13)[0])

    assert ours == pytest.approx(sum(person(r) for r in m), rel=1e-6)


def test_sparse_and_dense_storage_give_the_same_estimates():
    rng = np.random.default_rng(4)
    a, b, c = random_items(20, rng)
    data = simulate_responses(a, b, c, rng.normal(size=800), rng, answers_per_person=8)
    sparse, dense = data.with_storage(dense=False), data.with_storage(dense=True)
    assert dense.is_dense and not sparse.is_dense
    r1, r2 = calibrate(sparse, "2pl"), calibrate(dense, "2pl")
    np.testing.assert_allclose(r1.a, r2.a, atol=1e-8)  # same arithmetic, different storage
    np.testing.assert_allclose(r1.se_b, r2.se_b, atol=1e-8)


@pytest.mark.slow
def test_2pl_recovery_no_worse_than_girth_on_the_same_data():
    """60 items x 2,000 persons, our default priors.  Tolerances: ours must not be worse than
    girth's RMSE by more than 0.005 (sampling noise between two near-ML estimators; the full
    200 x 5,000 comparison is in bench/bench_calibration.py), and below absolute bounds that
    a correct ML estimator meets with this sample size (expected RMSE about 0.08 / 0.06)."""
    import girth

    rng = np.random.default_rng(11)
    a, b, c = random_items(60, rng)
    data = simulate_responses(a, b, c, rng.normal(size=2000), rng)
    res = calibrate(data, "2pl")
    g = girth.twopl_mml(np.asarray(data.correct, dtype=int).T)
    assert res.converged
    assert rmse(res.a, a) <= rmse(g["Discrimination"], a) + 0.005
    assert rmse(res.b, b) <= rmse(g["Difficulty"], b) + 0.005
    assert rmse(res.a, a) < 0.12 and rmse(res.b, b) < 0.1
    # the standard errors describe the actual estimation error: z-scores have SD near 1
    z = (res.b - b) / res.se_b
    assert 0.7 < np.std(z) < 1.3


def test_floating_log_a_prior_shrinks_slopes_without_moving_their_level():
    """The 2PL default prior (normal on log a, centred on the mean log a) against plain ML on
    40 items x 1,000 persons: the slopes move towards each other (SD of log a smaller) while
    their mean log a stays within 0.005 of ML's (measured shift +0.002).  The log-normal prior
    on a with the same centre and SD, whose density carries a 1/a factor, pulls the mean
    log a down instead (measured -0.023; asserted below -0.015)."""
    rng = np.random.default_rng(21)
    a, b, c = random_items(40, rng)
    data = simulate_responses(a, b, c, rng.normal(size=1000), rng)
    ml = np.log(fit_mml(data, "2pl", priors=Priors()).a)
    floating = np.log(fit_mml(data, "2pl").a)
    density_of_a = np.log(fit_mml(data, "2pl", priors=Priors(a_lognormal=(ml.mean(), 0.5))).a)
    assert abs(floating.mean() - ml.mean()) < 0.005
    assert floating.std() < ml.std() - 0.005
    assert density_of_a.mean() - ml.mean() < -0.015


@pytest.mark.slow
def test_3pl_recovery():
    """80 items x 3,000 persons with guessing; default priors (Beta(5,17) on c, floating prior
    on log a).  Bounds from the
    expected sampling error of 3PL estimates at this size (RMSE a ~0.15, b ~0.15)."""
    rng = np.random.default_rng(12)
    a, b, c = random_items(80, rng, guessing=True)
    data = simulate_responses(a, b, c, rng.normal(size=3000), rng)
    res = calibrate(data, "3pl")
    assert res.converged
    assert rmse(res.a, a) < 0.25
    assert rmse(res.b, b) < 0.2
    assert rmse(res.c, c) < 0.06


def test_sparse_recovery_missing_is_not_wrong():
    """200 items, 4,000 persons answering 40 random items each (80% missing).  If missing
    were scored wrong, every b would be pushed up by about 1.5 logits; with missing ignored
    the b errors centre on 0 (|mean error| < 0.05) with RMSE < 0.2."""
    rng = np.random.default_rng(13)
    a, b, c = random_items(200, rng)
    data = simulate_responses(a, b, c, rng.normal(size=4000), rng, answers_per_person=40)
    res = calibrate(data, "2pl")
    order = np.array([int(i.removeprefix("item")) - 1 for i in res.item_ids])
    err = res.b - b[order]
    assert abs(err.mean()) < 0.05
    assert rmse(res.b, b[order]) < 0.2
    assert rmse(res.a, a[order]) < 0.25


def test_start_values_lead_to_the_same_2pl_maximum_and_keep_c_at_zero():
    """From the true parameters (with c = 0.3 given, which the 2PL does not estimate) the fit
    reaches the estimates of the default start (to 1e-3, the convergence tolerance's order)."""
    rng = np.random.default_rng(31)
    a, b, c = random_items(20, rng)
    data = simulate_responses(a, b, c, rng.normal(size=1000), rng)
    default = fit_mml(data, "2pl", priors=Priors())
    started = fit_mml(data, "2pl", priors=Priors(), start=(a, b, np.full(20, 0.3)))
    np.testing.assert_array_equal(started.c, 0.0)
    np.testing.assert_allclose(started.a, default.a, atol=1e-3)
    np.testing.assert_allclose(started.b, default.b, atol=1e-3)
    with pytest.raises(ValueError, match="arrays of 20 items"):
        fit_mml(data, "2pl", start=(a[:5], b[:5], c[:5]))
