"""Fixed-parameter linking and anchor drift on simulated data with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import calibrate
from calibration.simulate import random_items, simulate_responses

N_ANCHORS, N_NEW = 50, 30
DRIFTER = 7  # index of the anchor whose data are generated with b shifted by DRIFT
DRIFT = 0.8


@pytest.fixture(scope="module")
def scenario():
    """Bank scale: theta ~ N(0, 1).  The pretest sample is abler and more spread out,
    theta ~ N(0.5, 1.2^2), so a calibration that assumes N(0, 1) lands on the wrong scale."""
    rng = np.random.default_rng(21)
    a, b, c = random_items(N_ANCHORS + N_NEW, rng)
    b_true_in_data = b.copy()
    b_true_in_data[DRIFTER] += DRIFT
    theta = rng.normal(0.5, 1.2, size=4000)
    data = simulate_responses(a, b_true_in_data, c, theta, rng, answers_per_person=35)
    bank = [
        {"id": f"item{k + 1}", "a": float(a[k]), "b": float(b[k]), "c": 0.0, "content": "x"}
        for k in range(N_ANCHORS)
    ]
    return data, bank, a, b


@pytest.fixture(scope="module")
def linked(scenario):
    data, bank, _, _ = scenario
    return calibrate(data, "2pl", anchors=bank)


def _truth_index(result):
    return np.array([int(i.removeprefix("item")) - 1 for i in result.item_ids])


def test_pretest_items_land_on_the_bank_scale(scenario, linked):
    data, _, _, b = scenario
    res = linked
    idx = _truth_index(res)
    new = idx >= N_ANCHORS
    assert not res.anchor[new].any() and res.anchor[~new].sum() == N_ANCHORS - 1
    # acceptance criterion of the issue: mean |b error| of the pretest items < 0.15
    assert np.mean(np.abs(res.b[new] - b[idx[new]])) < 0.15
    # the population is estimated on the bank scale (truth 0.5, 1.2; tolerance 0.1)
    assert res.population_mean == pytest.approx(0.5, abs=0.1)
    assert res.population_sd == pytest.approx(1.2, abs=0.1)
    # anchors keep their bank values exactly
    np.testing.assert_array_equal(res.b[~new & res.anchor], b[idx[~new & res.anchor]])
    # contrast: without the anchors the same items are off by more than 0.3 on average
    free = calibrate(data, "2pl")
    fidx = _truth_index(free)
    fnew = fidx >= N_ANCHORS
    assert np.mean(np.abs(free.b[fnew] - b[fidx[fnew]])) > 0.3


def test_shifted_anchor_is_reported_as_drifting(scenario, linked):
    _, bank, _, _ = scenario
    res = linked
    report = {r["id"]: r for r in res.drift.to_records()}
    drifter = report[f"item{DRIFTER + 1}"]
    assert drifter["drifting"]
    assert drifter["delta_b"] == pytest.approx(DRIFT, abs=0.25)
    # the others are stable: at most one false alarm among 49 (|z| > 1.96 and |db| > 0.3)
    assert sum(r["drifting"] for r in report.values()) <= 2
    # the drifting anchor was set free and re-estimated, not held at its stale bank value
    j = list(res.item_ids).index(f"item{DRIFTER + 1}")
    assert not res.anchor[j]
    assert res.b[j] == pytest.approx(bank[DRIFTER]["b"] + DRIFT, abs=0.25)


def test_rasch_linking():
    """Rasch anchors (a = 1): same scale check with the Rasch model."""
    rng = np.random.default_rng(22)
    b = rng.normal(0, 1, 60)
    ones = np.ones(60)
    data = simulate_responses(ones, b, np.zeros(60), rng.normal(-0.4, 0.9, 3000), rng,
                              answers_per_person=30)
    bank = [{"id": f"item{k + 1}", "a": 1.0, "b": float(b[k]), "c": 0.0} for k in range(40)]
    res = calibrate(data, "rasch", anchors=bank)
    idx = _truth_index(res)
    new = idx >= 40
    assert np.mean(np.abs(res.b[new] - b[idx[new]])) < 0.15
    assert res.population_mean == pytest.approx(-0.4, abs=0.1)


def test_anchor_errors(scenario):
    data, bank, _, _ = scenario
    with pytest.raises(ValueError, match="none of the 2 anchor items"):
        calibrate(data, "2pl", anchors=[{"id": "x1", "a": 1, "b": 0}, {"id": "x2", "a": 1, "b": 0}])
    with pytest.raises(ValueError, match="a must be > 0"):
        calibrate(data, "2pl", anchors=[{"id": "item1", "a": -1, "b": 0, "c": 0}])
    with pytest.raises(ValueError, match="engine native"):
        calibrate(data, "2pl", engine="girth", anchors=bank)
