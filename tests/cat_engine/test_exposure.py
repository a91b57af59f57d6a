from fractions import Fraction

import numpy as np
import pytest

from cat_engine.exposure import (
    DEFAULT_CAP_RAMP,
    capped_exclusion,
    exposure_eligible,
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
        for _ in range(200):
            n_tests = int(rng.integers(0, 200))
            counts = rng.integers(0, n_tests + 1, 300)
            excluded = rng.random(300) < 0.3
            position = int(rng.integers(0, 30))
            # the cap at this position, written out: 0.25 * min(1, f + (1 - f) s / S)
            r_s = 0.25 if cap_ramp is None else 0.25 * min(
                1, cap_ramp[0] + (1 - cap_ramp[0]) * position / cap_ramp[1])
            eligible = ~excluded & ((counts + 1) <= r_s * (n_tests + 1) + 1e-9)
            item = select_item(bank, rng.normal(), excluded=excluded, rng=rng, method=method,
                               max_exposure=0.25, exposure_counts=counts, n_tests=n_tests,
                               position=position, cap_ramp=cap_ramp, **extra)
            assert not excluded[item]
            if eligible.any():
                assert eligible[item]
            else:  # fallback: among the least exposed non-excluded items
                assert counts[item] == counts[~excluded].min()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_exposure": 0.0, "exposure_counts": np.zeros(20, int)}, "max_exposure must be in"),
        ({"max_exposure": 0.5}, "needs exposure_counts"),
        ({"max_exposure": 0.5, "exposure_counts": np.zeros(19, int)}, "mismatched lengths"),
        ({"max_exposure": 0.5, "exposure_counts": np.full(20, 3), "n_tests": 2},
         "exposure counts must be in"),
        ({"max_exposure": 0.5, "exposure_counts": np.zeros(20)}, "integers"),
        ({"max_exposure": 0.5, "exposure_counts": np.zeros(20, int), "n_tests": -1},
         "number of tests"),
        ({"max_exposure": 0.5, "exposure_counts": np.zeros(20, int), "cap_ramp": (0, 5)},
         "start fraction"),
        ({"max_exposure": 0.5, "exposure_counts": np.zeros(20, int), "cap_ramp": (0.5, 0)},
         "cap_ramp length"),
    ],
)
def test_exposure_cap_errors_name_the_problem(kwargs, message):
    rng = np.random.default_rng(1)
    bank = generate_bank(20, "2pl", rng=rng)
    with pytest.raises(ValueError, match=message):
        select_item(bank, 0.0, excluded=np.zeros(20, dtype=bool), rng=rng, **kwargs)
