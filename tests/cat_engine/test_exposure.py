from fractions import Fraction

import numpy as np
import pytest
from old_live_rule import old_next_cat_item

from cat_engine.config import ExposureWindow, SelectionRule
from cat_engine.exposure import (
    DEFAULT_CAP_RAMP,
    capped_exclusion,
    exposure_eligible,
    least_exposed_exclusion,
    progressive_cap,
)
from cat_engine.selection import select_item
from cat_engine.simulation import generate_bank


@pytest.mark.parametrize("r_max", [0.25, 0.2, 0.3, 1 / 3, 1.0])
def test_exposure_eligible_matches_exact_rational_rule(r_max):
    rng = np.random.default_rng(3)
    r = Fraction(r_max).limit_denominator(1000)  # the intended rate, exactly
    for n_tests in (0, 1, 3, 4, 7, 19, 100, 399):
        counts = rng.integers(0, n_tests + 1, 200)
        counts[:3] = [0, n_tests, int(r * (n_tests + 1)) - 1 if r * (n_tests + 1) >= 1 else 0]
        want = [Fraction(int(x) + 1, n_tests + 1) <= r for x in counts]
        assert exposure_eligible(counts, n_tests, r_max).tolist() == want


def test_capped_exclusion_falls_back_to_least_exposed_and_keeps_exclusions():
    counts = np.array([3, 1, 2, 1, 0, 0])
    excluded = np.array([False, False, False, False, True, False])
    # n_tests = 3, r_max = 0.25: (count + 1) / 4 <= 0.25 only for count 0 -> item 5 only
    assert np.flatnonzero(~capped_exclusion(excluded, counts, 3, 0.25)).tolist() == [5]
    # item 5 excluded too: nothing is under the cap -> the least exposed non-excluded (1, 3)
    excluded[5] = True
    assert np.flatnonzero(~capped_exclusion(excluded, counts, 3, 0.25)).tolist() == [1, 3]
    all_out = np.ones(6, dtype=bool)
    assert capped_exclusion(all_out, counts, 3, 0.25).all()


def test_progressive_cap_rises_linearly_to_r_max():
    # (f, S) = (0.2, 20): r_s = 0.25 * (0.2 + 0.8 s / 20), exact to rounding
    assert [progressive_cap(0.25, s, (0.2, 20)) for s in (0, 5, 10, 20, 29)] == pytest.approx(
        [0.05, 0.1, 0.15, 0.25, 0.25], abs=1e-15)
    assert progressive_cap(0.25, 0, None) == 0.25
    assert progressive_cap(1.0, 0, (0.2, 20)) == 1.0  # no cap: nothing to tighten
    with pytest.raises(ValueError, match="position"):
        progressive_cap(0.25, -1, (0.2, 20))


@pytest.mark.parametrize("cap_ramp", [None, DEFAULT_CAP_RAMP, (0.5, 3)])
def test_select_item_never_gives_a_capped_or_excluded_item(cap_ramp):
    rng = np.random.default_rng(4)
    bank = generate_bank(300, "3pl", rng=rng)
    for method, extra in (("mfi", {}), ("randomesque", {"k": 5}),
                          ("sympson-hetter", {"sh_params": rng.uniform(0.2, 1, 300)})):
        rule = SelectionRule(method=method, max_exposure=0.25, cap_ramp=cap_ramp, **extra)
        for _ in range(200):
            n_tests = int(rng.integers(0, 200))
            counts = rng.integers(0, n_tests + 1, 300)
            excluded = rng.random(300) < 0.3
            position = int(rng.integers(0, 30))
            # the cap at this position, written out: 0.25 * min(1, f + (1 - f) s / S)
            r_s = 0.25 if cap_ramp is None else 0.25 * min(
                1, cap_ramp[0] + (1 - cap_ramp[0]) * position / cap_ramp[1])
            eligible = ~excluded & ((counts + 1) <= r_s * (n_tests + 1) + 1e-9)
            item = select_item(bank, rng.normal(), rule, excluded=excluded, rng=rng,
                               window=ExposureWindow(counts, n_tests), position=position)
            assert not excluded[item]
            if eligible.any():
                assert eligible[item]
            else:  # fallback: among the least exposed non-excluded items
                assert counts[item] == counts[~excluded].min()


@pytest.mark.parametrize(
    "rule, window, message",
    [
        ({"max_exposure": 0.5}, None, "need the exam window"),
        ({"exposure_slack": 0}, None, "need the exam window"),
        ({"max_exposure": 0.5}, (np.zeros(19, int), 0), "mismatched lengths"),
        ({"exposure_slack": 1}, (np.zeros(21, int), 0), "mismatched lengths"),
        ({"max_exposure": 0.5}, (np.full(20, 3), 2), "exposure counts must be in"),
        ({"max_exposure": 0.5}, (np.zeros(20), 0), "integers"),
        ({"max_exposure": 0.5}, (np.zeros(20, int), -1), "number of tests"),
        ({"max_exposure": 0.5}, (np.zeros(20, int), 1.5), "number of tests must be an integer"),
    ],
)
def test_exposure_window_errors_name_the_problem(rule, window, message):
    rng = np.random.default_rng(1)
    bank = generate_bank(20, "2pl", rng=rng)
    with pytest.raises(ValueError, match=message):
        select_item(bank, 0.0, SelectionRule(**rule), excluded=np.zeros(20, dtype=bool),
                    rng=rng, window=None if window is None else ExposureWindow(*window))


def test_exposure_window_holds_a_frozen_copy():
    counts = np.array([0, 1, 2])
    window = ExposureWindow(counts, 2)
    counts[0] = 2
    assert window.counts.tolist() == [0, 1, 2] and window.n_tests == 2
    with pytest.raises(ValueError):
        window.counts[0] = 1


def test_least_exposed_exclusion_matches_a_per_tag_loop():
    # Brute force, one tag at a time: an item stays eligible when it is not excluded and its
    # count is at most the least count among the tag's non-excluded items plus the slack.
    rng = np.random.default_rng(41)
    for _ in range(400):
        n = int(rng.integers(1, 80))
        n_tags = int(rng.integers(1, 6))
        tags = rng.integers(0, n_tags, n)
        counts = rng.integers(0, int(rng.integers(1, 12)), n)
        excluded = rng.random(n) < rng.uniform(0, 1)
        slack = int(rng.integers(0, 4))
        want = excluded.copy()
        for tag in range(n_tags):
            members = np.flatnonzero((tags == tag) & ~excluded)
            if members.size:
                floor = counts[members].min()
                want[(tags == tag) & (counts > floor + slack)] = True
        got = least_exposed_exclusion(excluded, counts, tags, slack)
        np.testing.assert_array_equal(got, want)
        assert not (excluded & ~got).any()  # never relaxed


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros(3, bool), np.zeros(3, int), np.zeros(2, int), 0), "mismatched lengths"),
        ((np.zeros(3, bool), np.zeros(3), np.zeros(3, int), 0), "integers"),
        ((np.zeros(3, bool), np.zeros(3, int), np.full(3, -1), 0), "tag codes must be >= 0"),
        ((np.zeros(3, bool), np.zeros(3, int), np.zeros(3, int), -1), "slack must be"),
        ((np.zeros(3, bool), np.zeros(3, int), np.zeros(3, int), 0.5), "slack must be"),
    ],
)
def test_least_exposed_exclusion_errors(args, message):
    with pytest.raises(ValueError, match=message):
        least_exposed_exclusion(*args)


def test_select_item_with_slack_is_the_old_live_rule():
    # item_bank's rule before it moved into the engine (tests/cat_engine/old_live_rule.py),
    # same generator seed: the same item, over banks with and without tags, every slack,
    # caps from 0.1 to off, hard exclusions up to 99% of the bank and content balance on/off.
    rng = np.random.default_rng(43)
    banks = [generate_bank(n, "3pl", rng=rng, content_tags=tags)
             for n, tags in ((60, ["A", "B", "C"]), (300, ["A", "B"]), (2000, ["X", "Y", "Z"]),
                             (150, []))]
    for case in range(600):
        bank = banks[case % len(banks)]
        n = len(bank)
        n_tests = int(rng.integers(0, 40))
        # few distinct counts, so the least-exposed sets are small and ties are common
        counts = np.minimum(rng.integers(0, 6, n), n_tests)
        base = rng.random(n) < rng.uniform(0, 0.6)
        if case % 7 == 0:
            base = rng.random(n) < 0.99
        if base.all():
            continue
        max_exposure = float(rng.choice([0.1, 0.25, 0.5, 1.0]))
        slack = [None, 0, 1, 2][case % 4]
        k = int(rng.integers(1, 8))
        tags = bank.content_codes[0]
        shares = {t: 1.0 / len(tags) for t in tags} if case % 3 else None
        content_counts = {t: int(rng.integers(0, 5)) for t in tags} if shares else None
        theta = float(rng.normal())
        seed = int(rng.integers(2**31))
        want = old_next_cat_item(bank, theta, base=base, counts=counts, attempts=n_tests + 1,
                                  max_exposure=max_exposure, k=k, slack=slack,
                                  content_shares=shares, content_counts=content_counts,
                                  rng=np.random.default_rng(seed))
        rule = SelectionRule(method="randomesque", k=k, content_targets=shares,
                             max_exposure=max_exposure, exposure_slack=slack)
        got = select_item(bank, theta, rule, excluded=base, rng=np.random.default_rng(seed),
                          content_counts=content_counts, window=ExposureWindow(counts, n_tests),
                          position=int(rng.integers(0, 30)))
        assert got == want, case
