"""Item analysis against direct formulas and simulated misfit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import expit

from calibration import ResponseData, calibrate
from calibration.analysis import constant_items, summed_score_likelihoods
from calibration.mml import posterior
from calibration.simulate import random_items, simulate_responses


def test_lord_wingersky_equals_enumeration_of_all_patterns():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.9, size=(4, 3))
    brute = np.zeros((5, 3))
    for pattern in itertools.product((0, 1), repeat=4):
        x = np.array(pattern)[:, None]
        brute[sum(pattern)] += np.prod(np.where(x == 1, p, 1 - p), axis=0)
    np.testing.assert_allclose(summed_score_likelihoods(p), brute, atol=1e-14)


@pytest.fixture(scope="module")
def dense_fit():
    """30 model-conforming 2PL items plus one misfitting item (index 30) whose probability is
    flat 0.5 below theta = 0 and 0.95 above: no logistic curve describes it."""
    rng = np.random.default_rng(2)
    a, b, c = random_items(30, rng)
    theta = rng.normal(size=3000)
    p = expit(a * (theta[:, None] - b))
    odd = np.where(theta < 0, 0.5, 0.95)
    x = (rng.random((3000, 31)) < np.column_stack([p, odd])).astype(float)
    return x, calibrate(ResponseData.from_matrix(x), "2pl")


def test_classical_statistics_match_direct_formulas(dense_fit):
    x, res = dense_fit
    np.testing.assert_allclose(res.stats.p, x.mean(axis=0), atol=1e-12)
    total = x.sum(axis=1)
    direct = [np.corrcoef(x[:, j], total - x[:, j])[0, 1] for j in range(x.shape[1])]
    np.testing.assert_allclose(res.stats.r_pbis, direct, atol=1e-10)


def test_infit_outfit_match_definition(dense_fit):
    x, res = dense_fit
    _, eap, _ = posterior(ResponseData.from_matrix(x), res.a, res.b, res.c)
    p = expit(res.a * (eap[:, None] - res.b))
    infit = ((x - p) ** 2).sum(0) / (p * (1 - p)).sum(0)
    outfit = ((x - p) ** 2 / (p * (1 - p))).mean(0)
    np.testing.assert_allclose(res.stats.infit, infit, rtol=1e-6)
    np.testing.assert_allclose(res.stats.outfit, outfit, rtol=1e-6)


def test_sx2_flags_the_misfitting_item_and_few_others(dense_fit):
    _, res = dense_fit
    assert res.stats.sx2_p[30] < 1e-6
    assert "misfit" in res.stats.flags[30]
    # under the model p-values are ~uniform: at alpha = 0.01, 30 items give ~0.3 false alarms
    assert np.sum(res.stats.sx2_p[:30] < 0.01) <= 2
    assert np.all(res.stats.sx2_df[:30] >= 1)


def test_flags_too_easy_too_hard_low_discrimination():
    rng = np.random.default_rng(3)
    a = np.array([1.2, 1.0, 1.5, 0.15, 1.1, 0.9])
    b = np.array([-4.0, 4.0, 0.0, 0.0, 0.5, -0.5])
    data = simulate_responses(a, b, np.zeros(6), rng.normal(size=3000), rng)
    res = calibrate(data, "2pl")
    flags = res.stats.flags
    assert "too_easy" in flags[0] and "too_hard" in flags[1]
    assert "low_discrimination" in flags[3]
    assert not flags[2] and not flags[4]


def test_constant_item_is_left_out_and_reported():
    rng = np.random.default_rng(4)
    a, b, c = random_items(6, rng)
    x = simulate_responses(a, b, c, rng.normal(size=500), rng).to_matrix()
    x[:, 2] = 1.0
    data = ResponseData.from_matrix(x)
    assert constant_items(data).tolist() == [False, False, True, False, False, False]
    res = calibrate(data, "2pl")
    assert "item3" not in res.item_ids and len(res.item_ids) == 5
    assert res.excluded == {"item3": "all 500 answers were correct"}
    with pytest.raises(ValueError, match="every item was answered the same way"):
        calibrate(ResponseData.from_matrix(np.ones((5, 3))), "2pl")
