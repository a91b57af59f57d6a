"""Our MML estimates against published values for LSAT6 / LSAT7 (Bock & Lieberman 1970).

Sources (full citations in data/published_estimates.json):
* Rizopoulos D. (2006) "ltm: An R package for latent variable modeling and item response theory
  analyses", J. Stat. Softw. 17(5): Rasch with a = 1 (p. 7) and the 1PL with a common a (p. 10)
  on LSAT6, with standard errors and log-likelihoods; 2PL log-likelihood (p. 12).
* ltm 2PL item parameters for LSAT6, printed ltm output (secondary source, RPubs note).
* mirt 1.47 reference tests (tests/testthat/test-01-mirtOne.R): LSAT7 2PL and equal-slopes 1PL.
Tolerance: the issue asks for agreement to two decimals, i.e. |ours - published| < 0.005 after
rounding -> we assert an absolute difference below 0.01 (also mirt's own test tolerance).

The published values are plain maximum-likelihood estimates (ltm and mirt set no priors), so the
2PL runs here pass ``priors=PLAIN_ML`` explicitly: our 2PL/3PL default adds a weak floating
prior on log a (see calibration.mml.default_priors), which on 5 items x 1,000 persons moves
the slopes by up to 0.12.  Rasch and the 1PL have no prior by default.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration import Priors, calibrate
from tests.calibration.conftest import lsat

TWO_DECIMALS = 0.01
PLAIN_ML = Priors()  # no prior at all: maximum likelihood, as ltm and mirt


def test_lsat6_rasch_a_fixed_at_one_matches_ltm_paper(published):
    ref = published["ltm_JSS2006_LSAT6_rasch_a1"]
    res = calibrate(lsat("LSAT6"), "rasch")
    np.testing.assert_allclose(res.a, 1.0)
    np.testing.assert_allclose(res.b, ref["b"], atol=TWO_DECIMALS)
    assert res.loglik == pytest.approx(ref["logLik"], abs=0.01)
    # XPD standard errors vs ltm's Hessian-based ones: same quantity, different estimator of
    # the information; 0.01 absolute is well below the SEs' own sampling variability
    np.testing.assert_allclose(res.se_b, ref["b_se"], atol=0.01)


def test_lsat6_1pl_common_slope_matches_ltm_paper_and_mirt(published):
    ref = published["ltm_JSS2006_LSAT6_rasch_common_a"]
    res = calibrate(lsat("LSAT6"), "1pl")
    np.testing.assert_allclose(res.a, ref["a"], atol=TWO_DECIMALS)
    np.testing.assert_allclose(res.b, ref["b"], atol=TWO_DECIMALS)
    assert res.loglik == pytest.approx(ref["logLik"], abs=0.01)
    assert res.se_a[0] == pytest.approx(ref["a_se"], abs=0.01)
    np.testing.assert_allclose(res.se_b, ref["b_se"], atol=0.01)
    mirt = published["mirt_test_LSAT6_rasch"]
    np.testing.assert_allclose(res.b, mirt["b_converted"], atol=TWO_DECIMALS)


def test_lsat6_2pl_matches_ltm(published):
    ref = published["ltm_rpubs_LSAT6_2pl"]
    res = calibrate(lsat("LSAT6"), "2pl", priors=PLAIN_ML)
    np.testing.assert_allclose(res.a, ref["a"], atol=TWO_DECIMALS)
    np.testing.assert_allclose(res.b, ref["b"], atol=TWO_DECIMALS)
    paper = published["ltm_JSS2006_LSAT6_2pl_loglik"]
    assert res.loglik == pytest.approx(paper["logLik"], abs=0.01)


def test_lsat7_2pl_and_equal_slopes_match_mirt_reference_tests(published):
    data = lsat("LSAT7")
    two = published["mirt_test_LSAT7_2pl"]
    res = calibrate(data, "2pl", priors=PLAIN_ML)
    np.testing.assert_allclose(res.a, two["a"], atol=TWO_DECIMALS)
    np.testing.assert_allclose(res.b, two["b_converted"], atol=TWO_DECIMALS)
    one = published["mirt_test_LSAT7_1pl_equal_slopes"]
    res1 = calibrate(data, "1pl")
    np.testing.assert_allclose(res1.a, one["a"], atol=TWO_DECIMALS)
    np.testing.assert_allclose(res1.b, one["b_converted"], atol=TWO_DECIMALS)


def test_lsat7_3pl_without_prior_matches_mirt(published):
    """The 3PL on 5 items is weakly identified (see the source's note), but plain ML has one
    maximum here and mirt's is it: b to two decimals, and the one clearly non-zero guessing
    parameter (item 2, g = 0.295) too (measured: b within 0.007, g 0.2979)."""
    ref = published["mirt_test_LSAT7_3pl"]
    res = calibrate(lsat("LSAT7"), "3pl", priors=PLAIN_ML, max_iter=3000, tol=1e-6)
    np.testing.assert_allclose(res.b, ref["b"], atol=TWO_DECIMALS)
    assert res.c[1] == pytest.approx(ref["g_item2"], abs=TWO_DECIMALS)


def test_girth_engine_agrees_with_native_on_lsat7():
    """Independent implementation (girth's twopl_mml): agreement within 0.05 (girth stops
    after 25 cycles and uses a different quadrature, so it is not exactly at the optimum)."""
    native = calibrate(lsat("LSAT7"), "2pl", priors=PLAIN_ML)  # the ML maximum, no prior
    other = calibrate(lsat("LSAT7"), "2pl", engine="girth")
    np.testing.assert_allclose(other.a, native.a, atol=0.05)
    np.testing.assert_allclose(other.b, native.b, atol=0.05)
    assert other.loglik <= native.loglik + 1e-6  # ours is the maximum
