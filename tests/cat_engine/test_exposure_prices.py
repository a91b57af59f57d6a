"""Exposure prices: the dual of the exposure-quota allocation, priced selection, calibration."""

import numpy as np
import pytest
from helpers import info_fd
from scipy import sparse
from scipy.optimize import linprog

from cat_engine.config import CatConfig, SelectionRule, check_prices
from cat_engine.exposure_calibration import _dual_prices, calibrate_exposure_prices
from cat_engine.selection import most_informative, select_item
from cat_engine.simulation import generate_bank, simulate
from cat_engine.stopping import StoppingRule


def test_dual_prices_reach_the_lp_optimum_of_the_quota_allocation():
    # Known abilities: 300 examinees each take the L = 3 items of highest priced information
    # among 12, every item quota r = 0.3.  The LP optimum of the allocation (scipy HiGHS) is
    # the independent truth; by weak duality D(lambda) = sum_j top_L(I_j - lambda) + N r
    # sum(lambda) >= LP* for every lambda >= 0, so D at the calibrated prices bounds the gap.
    rng = np.random.default_rng(11)
    n, n_exam, length, r = 12, 300, 3, 0.3
    a, b, c = rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0.05, 0.25, n)
    info = info_fd(rng.standard_normal(n_exam)[:, None], a, b, c)  # (N, n)

    def allocate(lam):
        x = np.zeros_like(info)
        np.put_along_axis(x, np.argsort(-(info - lam), axis=1)[:, :length], 1.0, axis=1)
        return x

    lam = _dual_prices(lambda p: allocate(p).mean(axis=0), n, r, rounds=400, step=1.0,
                       progress=None)
    lp = linprog(-info.ravel(), A_ub=sparse.kron(np.ones((1, n_exam)), sparse.eye(n)),
                 b_ub=np.full(n, r * n_exam),
                 A_eq=sparse.kron(sparse.eye(n_exam), np.ones((1, n))),
                 b_eq=np.full(n_exam, length), bounds=(0, 1), method="highs")
    best = -lp.fun
    dual = np.sort(info - lam, axis=1)[:, -length:].sum() + n_exam * r * lam.sum()
    x = allocate(lam)
    print(f"LP {best:.3f}, dual bound {dual:.3f}, priced allocation {(x * info).sum():.3f}, "
          f"max rate {x.mean(axis=0).max():.3f}")
    assert dual >= best * (1 - 1e-9)  # weak duality: a check of the LP itself
    assert dual <= 1.005 * best  # calibrated prices within 0.5% of the optimal dual
    # the allocation the prices induce: nearly within quota (examinees near an indifference
    # point switch together, so a fixed price vector overshoots by a few examinees; measured
    # 0.337) and nearly optimal
    assert x.mean(axis=0).max() <= r + 0.05
    assert (x * info).sum() >= 0.99 * best
    # without prices the quota is badly broken
    assert allocate(np.zeros(n)).mean(axis=0).max() > 0.6


@pytest.mark.parametrize("n_items", [40, 700, 5000])
def test_priced_selection_matches_brute_force(n_items):
    # The block pruning must stay exact with prices: top-k of I_i(theta) - lambda_i over the
    # eligible items, against the independent information of the helpers.
    rng = np.random.default_rng(n_items)
    bank = generate_bank(n_items, "3pl", rng=rng)
    for _ in range(30):
        theta = rng.normal(0, 1.5)
        prices = np.where(rng.random(n_items) < 0.5, rng.uniform(0, 0.5, n_items), 0.0)
        excluded = rng.random(n_items) < 0.2
        value = info_fd(np.array([[theta]]), bank.a, bank.b, bank.c)[0] - prices
        value[excluded] = -np.inf
        want = np.argsort(-value, kind="stable")[:7]
        got = most_informative(bank, theta, excluded, 7, prices=prices)
        # finite differences agree to ~1e-8: compare values, then indices where not tied
        assert np.allclose(value[got], value[want], atol=1e-6)
        item = select_item(bank, theta, SelectionRule(prices=prices), excluded=excluded,
                           rng=rng)
        assert value[item] == pytest.approx(value[want[0]], abs=1e-6)


def test_price_rounds_simulate_the_configured_cat_without_its_exposure_rules():
    # The calibrator runs simulate() itself: the rates of its first round (prices 0) are those
    # of the configured CAT, cap and least-exposed rule off, on the abilities and answers the
    # same generator gives.
    bank = generate_bank(80, "3pl", rng=np.random.default_rng(21),
                         content_tags=["A", "B"])
    config = CatConfig(stopping=StoppingRule(max_items=8),
                       selection=SelectionRule(method="randomesque", k=3, max_exposure=0.25,
                                               cap_ramp=(0.2, 20), exposure_slack=0,
                                               content_targets={"A": 0.5, "B": 0.5}))
    seen = []
    calibrate_exposure_prices(bank, config, target=0.3, rounds=1, n_examinees=50,
                              rng=np.random.default_rng(5),
                              progress=lambda t, rates, lam: seen.append(rates))
    rng = np.random.default_rng(5)
    free = CatConfig(stopping=config.stopping,
                     selection=SelectionRule(method="randomesque", k=3, prices=np.zeros(80),
                                             content_targets={"A": 0.5, "B": 0.5}))
    want = simulate(bank, rng.standard_normal(50), config=free, rng=rng).exposure
    np.testing.assert_array_equal(seen[0], want)
    assert want.max() > 0.25  # the cap is off: otherwise no rate would pass it


def test_calibrated_prices_bring_exposure_toward_the_target():
    rng = np.random.default_rng(4)
    bank = generate_bank(200, "3pl", rng=rng)
    config = CatConfig(stopping=StoppingRule(max_items=15),
                       selection=SelectionRule(method="randomesque", k=3))
    seen = []
    prices = calibrate_exposure_prices(bank, config, target=0.3, rounds=12, rng=rng,
                                       progress=lambda t, rates, lam: seen.append(t))
    assert seen == list(range(12)) and prices.shape == (200,) and (prices >= 0).all()
    thetas = rng.standard_normal(600)
    priced_config = CatConfig(stopping=config.stopping,
                              selection=SelectionRule(method="randomesque", k=3, prices=prices))
    plain = simulate(bank, thetas, config=config, rng=rng).exposure
    priced = simulate(bank, thetas, config=priced_config, rng=rng).exposure
    excess = [np.maximum(0.0, rates - 0.3).sum() for rates in (plain, priced)]
    print(f"max rate plain {plain.max():.3f}, priced {priced.max():.3f}; "
          f"summed excess over the target {excess[0]:.3f} -> {excess[1]:.3f}")
    # No cap here, the prices alone; the early items of every test are chosen at the same prior
    # estimate, which prices cannot split finely, so the target is approached, not met
    # (measured: max 0.903 -> 0.608, summed excess 5.29 -> 1.99)
    assert priced.max() < 0.7 < plain.max()
    assert excess[1] < 0.5 * excess[0]


@pytest.mark.parametrize(
    "prices, message",
    [(np.zeros(9), "mismatched lengths"), (np.full(10, -0.1), ">= 0"),
     (np.full(10, np.nan), "finite")],
)
def test_bad_prices_are_refused(prices, message):
    with pytest.raises(ValueError, match=message):
        check_prices(prices, 10)
    rng = np.random.default_rng(1)
    bank = generate_bank(10, "2pl", rng=rng)
    with pytest.raises(ValueError, match=message):
        # the rule checks the values, select_item the length against the bank
        select_item(bank, 0.0, SelectionRule(prices=prices), excluded=np.zeros(10, dtype=bool),
                    rng=rng)
    with pytest.raises(ValueError, match=message):
        most_informative(bank, 0.0, prices=prices)


def test_calibration_arguments_are_checked():
    rng = np.random.default_rng(1)
    bank = generate_bank(20, "2pl", rng=rng)
    config = CatConfig(selection=SelectionRule(method="randomesque"))
    with pytest.raises(ValueError, match="target rate"):
        calibrate_exposure_prices(bank, config, target=0.0, rng=rng)
    with pytest.raises(ValueError, match="max_items"):
        calibrate_exposure_prices(bank, CatConfig(stopping=StoppingRule(max_items=21)), rng=rng)
    with pytest.raises(ValueError, match="step"):
        calibrate_exposure_prices(bank, config, step=0.0, rng=rng)
    with pytest.raises(ValueError, match="rounds and n_examinees"):
        calibrate_exposure_prices(bank, config, rounds=0, rng=rng)
