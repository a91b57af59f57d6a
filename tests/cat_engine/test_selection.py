from collections import Counter

import numpy as np
import pytest

from cat_engine.assembly import next_item, record_response, start_attempt
from cat_engine.config import CatConfig, SelectionRule
from cat_engine.irt import ItemBank, information
from cat_engine.selection import (
    _index_for,
    content_quotas,
    content_shares,
    most_informative,
    select_item,
)
from cat_engine.simulation import generate_bank
from cat_engine.stopping import StoppingRule


@pytest.mark.parametrize("n, model", [(50, "2pl"), (3000, "3pl"), (20000, "3pl"), (5000, "1pl")])
def test_selection_is_exact_argmax_with_random_exclusions(n, model):
    rng = np.random.default_rng(n)
    bank = generate_bank(n, model, rng=rng)
    for _ in range(150):
        theta = rng.uniform(-4, 4)
        excluded = rng.random(n) < rng.uniform(0, 0.99)
        if excluded.all():
            continue
        info = information(theta, bank.a, bank.b, bank.c)
        info[excluded] = -np.inf
        brute = np.argsort(-info, kind="stable")[:7]
        brute = brute[np.isfinite(info[brute])]
        got = most_informative(bank, theta, excluded, 7)
        # exact: same items in the same order (continuous parameters: no ties)
        np.testing.assert_array_equal(got, brute)
        assert select_item(bank, theta, SelectionRule(), excluded=excluded, rng=rng) == brute[0]


def test_theta_cell_lists_hold_the_items_of_highest_information_over_the_cell():
    # The lists' invariant, against a dense scan of each cell (201 abilities, edges included):
    # the listed items are those of highest maximum information over the cell, and ``tail`` is
    # the highest maximum among the rest (the dense scan misses the peak by < 1e-6 relative).
    rng = np.random.default_rng(32)
    bank = generate_bank(3000, "3pl", rng=rng)
    cells = _index_for(bank, None).cells
    for j in rng.choice(cells.tail.size, 25, replace=False):
        grid = np.linspace(-6 + 0.05 * j, -6 + 0.05 * (j + 1), 201)
        top = information(grid, bank.a, bank.b, bank.c).max(axis=0)
        listed = np.zeros(len(bank), dtype=bool)
        listed[cells.index[j]] = True
        assert top[~listed].max() <= cells.tail[j] <= top[~listed].max() * (1 + 1e-6)
        assert top[listed].min() >= top[~listed].max() * (1 - 1e-6)
        assert (np.diff(top[cells.index[j]]) <= 1e-6).all()  # best first


@pytest.mark.parametrize("model", ["3pl", "1pl"])
def test_theta_cell_lists_give_the_exact_top_k(model):
    # A CAT excludes few items, so the per-cell lists answer: check them against brute force on
    # cell edges, the grid's ends and CAT-like exclusions (the previous best items), with
    # prices, k up to past the list length, and exact ties (a 1PL bank with duplicated items:
    # the smaller bank index first).  Outside the cells, or with too few listed items
    # eligible, the lists decline and the block search answers (checked the same way).
    rng = np.random.default_rng(31)
    base = generate_bank(3000, model, rng=rng)
    copies = np.concatenate([np.arange(3000), np.arange(0, 3000, 7)])
    bank = ItemBank(ids=[f"i{j}" for j in range(copies.size)], a=base.a[copies],
                    b=base.b[copies], c=base.c[copies], content=base.content[copies])
    n = len(bank)
    cells = _index_for(bank, None).cells
    answered = declined = 0
    thetas = np.concatenate([[-6.0, 6.0, -5.95, 0.05, 2.5, -6.5, 7.0],
                             rng.uniform(-6, 6, 120)])
    for i, theta in enumerate(thetas):
        info = information(theta, bank.a, bank.b, bank.c)
        excluded = np.zeros(n, dtype=bool)
        excluded[np.argsort(-info)[: rng.integers(0, 60)]] = True
        excluded[rng.integers(0, n, 30)] = True
        if i % 3 == 0:
            excluded |= rng.random(n) < 0.98  # too few listed items left: declined
        prices = np.where(rng.random(n) < 0.5, rng.uniform(0, 0.05, n), 0.0) if i % 2 else None
        value = info - (0 if prices is None else prices)
        value[excluded] = -np.inf
        for k in (1, 5, 300):
            want = np.argsort(-value, kind="stable")[:k]
            want = want[np.isfinite(value[want])]
            listed = cells.top(theta, excluded, k, prices)
            if listed is None:
                declined += 1
            else:
                answered += 1
                np.testing.assert_array_equal(listed, want)
            np.testing.assert_array_equal(
                most_informative(bank, theta, excluded, k, prices=prices), want)
    assert answered > 150 and declined > 50  # both paths ran


@pytest.mark.parametrize("method", ["mfi", "randomesque", "sympson-hetter"])
def test_exclusion_set_is_never_violated(method):
    rng = np.random.default_rng(7)
    bank = generate_bank(400, "3pl", rng=rng, content_tags=["A", "B", "C"])
    sh = rng.uniform(0, 1, len(bank)) if method == "sympson-hetter" else None
    rule = SelectionRule(method=method, sh_params=sh,
                         content_targets={"A": 0.5, "B": 0.3, "C": 0.2})
    for _ in range(300):
        excluded = rng.random(len(bank)) < rng.uniform(0.5, 0.999)
        if excluded.all():
            continue
        chosen = select_item(bank, rng.normal(), rule, excluded=excluded, rng=rng,
                             content_counts={"A": int(rng.integers(5)), "B": 1})
        assert not excluded[chosen]


def test_randomesque_picks_among_the_k_best_uniformly():
    rng = np.random.default_rng(8)
    bank = generate_bank(500, "3pl", rng=rng)
    excluded = np.zeros(len(bank), dtype=bool)
    top = set(most_informative(bank, 0.4, excluded, 5).tolist())
    rule = SelectionRule(method="randomesque", k=5)
    picks = Counter(select_item(bank, 0.4, rule, excluded=excluded, rng=rng)
                    for _ in range(5000))
    assert set(picks) == top
    # each of 5 expected 1000 times; 5 binomial SDs is 141
    assert all(abs(v - 1000) < 150 for v in picks.values())


def test_sympson_hetter_never_gives_items_with_zero_parameter():
    rng = np.random.default_rng(9)
    bank = generate_bank(300, "3pl", rng=rng)
    sh = np.where(rng.random(len(bank)) < 0.5, 0.0, 1.0)
    excluded = np.zeros(len(bank), dtype=bool)
    rule = SelectionRule(method="sympson-hetter", sh_params=sh)
    for _ in range(200):
        chosen = select_item(bank, rng.normal(), rule, excluded=excluded, rng=rng)
        assert sh[chosen] == 1.0
    info = information(0.0, bank.a, bank.b, bank.c)
    # with all parameters 1 it is plain maximum information
    ones = SelectionRule(method="sympson-hetter", sh_params=np.ones(len(bank)))
    assert select_item(bank, 0.0, ones, excluded=excluded, rng=rng) == int(np.argmax(info))


def test_content_balancing_meets_target_shares_in_a_cat():
    rng = np.random.default_rng(10)
    bank = generate_bank(600, "3pl", rng=rng, content_tags=["A", "B", "C", "D"])
    targets = {"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1}
    config = CatConfig(stopping=StoppingRule(max_items=20),
                       selection=SelectionRule(content_targets=targets))
    for _ in range(20):
        state = start_attempt(config)
        while (item := next_item(state, bank, config, rng=rng)) is not None:
            state = record_response(state, bank, item, int(rng.integers(2)), config)
        got = Counter(bank.content[list(state.items)].tolist())
        assert dict(got) == content_quotas(targets, 20) == {"A": 8, "B": 6, "C": 4, "D": 2}


def test_selection_errors_name_the_problem():
    rng = np.random.default_rng(11)
    bank = generate_bank(20, "2pl", rng=rng)
    plain = SelectionRule()
    with pytest.raises(ValueError, match="fully excluded"):
        select_item(bank, 0.0, plain, excluded=np.ones(20, dtype=bool), rng=rng)
    with pytest.raises(ValueError, match="mismatched lengths"):
        select_item(bank, 0.0, plain, excluded=np.zeros(19, dtype=bool), rng=rng)
    with pytest.raises(ValueError, match="boolean mask"):
        select_item(bank, 0.0, plain, excluded=np.zeros(20), rng=rng)
    with pytest.raises(ValueError, match="theta must be finite"):
        select_item(bank, np.nan, plain, excluded=None, rng=rng)
    with pytest.raises(ValueError, match="position must be >= 0"):
        select_item(bank, 0.0, plain, excluded=None, rng=rng, position=-1)
    with pytest.raises(ValueError, match="not in the bank"):
        select_item(bank, 0.0, SelectionRule(content_targets={"Z": 1.0}),
                    excluded=np.zeros(20, dtype=bool), rng=rng)
    with pytest.raises(ValueError, match="mismatched lengths: 19 Sympson-Hetter"):
        select_item(bank, 0.0, SelectionRule(method="sympson-hetter", sh_params=np.ones(19)),
                    excluded=None, rng=rng)
    with pytest.raises(ValueError, match="empty"):
        ItemBank.from_records([])
    config = CatConfig()
    state = record_response(start_attempt(config), bank, 3, 1, config)
    with pytest.raises(ValueError, match="already administered"):
        record_response(state, bank, 3, 0, config)
    with pytest.raises(ValueError, match="0 or 1"):
        record_response(state, bank, 4, 2, config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "best"}, "unknown selection method"),
        ({"method": "randomesque", "k": 0}, "k must be an integer >= 1"),
        ({"k": 2.5}, "k must be an integer >= 1"),
        ({"method": "sympson-hetter"}, "needs sh_params"),
        ({"sh_params": np.ones(5)}, "sh_params are for sympson-hetter"),
        ({"method": "sympson-hetter", "sh_params": np.full(5, 1.5)}, r"in \[0, 1\]"),
        ({"method": "sympson-hetter", "sh_params": np.ones((2, 2))}, "one-dimensional"),
        ({"content_targets": {}}, "non-empty"),
        ({"content_targets": {"A": -1.0, "B": 2.0}}, "non-negative shares"),
        ({"content_targets": {"A": 0.0}}, "positive sum"),
        ({"content_targets": {1: 1.0}}, "tags must be strings"),
        ({"content_targets": {"A": "x"}}, "shares must be numbers"),
        ({"max_exposure": 0.0}, "max_exposure must be in"),
        ({"max_exposure": 1.5}, "max_exposure must be in"),
        ({"cap_ramp": (0, 5)}, "start fraction"),
        ({"cap_ramp": (0.5, 0)}, "cap_ramp length"),
        ({"exposure_slack": -1}, "exposure_slack must be an integer >= 0"),
        ({"exposure_slack": 1.5}, "exposure_slack must be an integer >= 0"),
        ({"exposure_slack": True}, "exposure_slack must be an integer >= 0"),
        ({"prices": np.full(5, -0.1)}, ">= 0"),
        ({"prices": np.full(5, np.inf)}, "finite"),
    ],
)
def test_selection_rule_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SelectionRule(**kwargs)


def test_selection_rule_holds_frozen_copies():
    # A rule is checked once: the arrays and targets it holds cannot change afterwards.
    prices, shares = np.zeros(4), {"A": 1.0}
    rule = SelectionRule(prices=prices, content_targets=shares)
    prices[0] = -1.0
    shares["B"] = 2.0
    assert rule.prices[0] == 0.0 and dict(rule.content_targets) == {"A": 1.0}
    with pytest.raises(ValueError):
        rule.prices[0] = 1.0
    with pytest.raises(TypeError):
        rule.content_targets["A"] = 2.0


def test_cat_config_refuses_bad_estimator_and_prior():
    with pytest.raises(ValueError, match="unknown estimation method"):
        CatConfig(estimator="ml")
    with pytest.raises(ValueError, match="prior_sd"):
        CatConfig(prior_sd=0.0)
    with pytest.raises(ValueError, match="prior_mean"):
        CatConfig(prior_mean=np.inf)


def test_content_shares_are_the_bank_proportions_in_tag_order():
    rng = np.random.default_rng(12)
    bank = generate_bank(10, "2pl", rng=rng, content_tags=["TWK", "TIU", "TKP", "TWK"])
    assert content_shares(bank) == {"TIU": 0.3, "TKP": 0.2, "TWK": 0.5}
    assert list(content_shares(bank)) == list(bank.content_codes[0])
    assert content_shares(generate_bank(3, "2pl", rng=rng)) == {"": 1.0}
