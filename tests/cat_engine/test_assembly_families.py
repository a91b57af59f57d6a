"""Item families (ItemBank.family): at most one item of a family in a test, and exposure that
counts a family as one item, in the CAT step and in LOFT forms."""

import dataclasses

import numpy as np
import pytest

from cat_engine.assembly import (
    assemble_form,
    family_window,
    next_item,
    record_response,
    start_attempt,
    step_rng,
)
from cat_engine.config import CatConfig, ExposureWindow, SelectionRule
from cat_engine.simulation import generate_bank
from cat_engine.stopping import StoppingRule


def _with_families(bank, size: int, rng):
    """The bank with items grouped at random into families of ``size`` (the rest alone)."""
    n = len(bank)
    family = np.arange(n)
    members = rng.permutation(n)[: (n // (2 * size)) * size]
    family[members] = members.reshape(-1, size)[:, :1].repeat(size, axis=1).ravel()
    return dataclasses.replace(bank, family=family)


def test_a_cat_never_gives_two_items_of_one_family():
    rng = np.random.default_rng(31)
    bank = _with_families(generate_bank(120, "2pl", rng=rng), 3, rng)
    config = CatConfig(stopping=StoppingRule(max_items=40, min_items=40),
                       selection=SelectionRule(method="randomesque", k=5))
    for person in range(20):
        theta = rng.normal()
        state = start_attempt(config)
        for position in range(1, 41):
            item = next_item(state, bank, config, rng=step_rng(person, position))
            p = 1 / (1 + np.exp(-bank.a[item] * (theta - bank.b[item])))
            state = record_response(state, bank, item, int(rng.random() < p), config)
        families = bank.family[list(state.items)]
        assert np.unique(families).size == len(state.items) == 40


def test_without_families_the_step_is_unchanged():
    # family=None and one family per item select the same items with the same streams.
    rng = np.random.default_rng(32)
    plain = generate_bank(80, "2pl", rng=rng)
    alone = dataclasses.replace(plain, family=np.arange(80) + 1000)
    config = CatConfig(stopping=StoppingRule(max_items=15),
                       selection=SelectionRule(method="randomesque", k=4))
    for bank_states in range(3):
        s1 = s2 = start_attempt(config)
        for position in range(1, 16):
            i1 = next_item(s1, plain, config, rng=step_rng(bank_states, position))
            i2 = next_item(s2, alone, config, rng=step_rng(bank_states, position))
            assert i1 == i2
            s1 = record_response(s1, plain, i1, position % 2, config)
            s2 = record_response(s2, alone, i2, position % 2, config)


def test_the_window_counts_a_family_as_one_item():
    bank = dataclasses.replace(generate_bank(5, "2pl", rng=np.random.default_rng(3)),
                               family=np.array([7, 7, 9, 7, 4]))
    window = family_window(bank, ExposureWindow(counts=np.array([3, 2, 1, 0, 4]), n_tests=10))
    np.testing.assert_array_equal(window.counts, [5, 5, 1, 5, 4])
    # Counts from before the items became one family are clipped to the tests.
    window = family_window(bank, ExposureWindow(counts=np.array([6, 6, 0, 0, 0]), n_tests=10))
    np.testing.assert_array_equal(window.counts, [10, 10, 0, 10, 0])


def test_the_running_cap_holds_for_the_family():
    # Three variants of one very informative template and a weak rest: with a cap of 0.3 the
    # family as a whole is in at most 30 % of the tests (each variant alone would pass it).
    rng = np.random.default_rng(33)
    bank = generate_bank(60, "2pl", rng=rng)
    a = bank.a.copy()
    a[:3] = 3.0
    b = bank.b.copy()
    b[:3] = 0.0
    bank = dataclasses.replace(bank, a=a, b=b,
                               family=np.r_[np.zeros(3, dtype=int), np.arange(1, 58)])
    config = CatConfig(stopping=StoppingRule(max_items=5, min_items=5),
                       selection=SelectionRule(max_exposure=0.3))
    counts = np.zeros(60, dtype=np.intp)
    tests = 200
    for person in range(tests):
        state = start_attempt(config)
        for position in range(1, 6):
            window = ExposureWindow(counts=counts.copy(), n_tests=person)
            item = next_item(state, bank, config, rng=step_rng(person, position), window=window)
            state = record_response(state, bank, item, int(rng.random() < 0.5), config)
        counts[list(state.items)] += 1
    family_rate = counts[:3].sum() / tests
    assert 0.25 <= family_rate <= 0.3 + 1 / tests


@pytest.mark.parametrize("tolerance", [0.10, None])
def test_a_loft_form_holds_one_item_per_family(tolerance):
    rng = np.random.default_rng(34)
    bank = _with_families(generate_bank(200, "2pl", rng=rng), 4, rng)
    for seed in range(20):
        form = assemble_form(bank, 40, SelectionRule(), rng=np.random.default_rng(seed),
                             tolerance=tolerance if tolerance is not None else 0.5)
        assert np.unique(bank.family[form]).size == 40


def test_a_family_of_seen_items_is_what_the_caller_excludes():
    bank = dataclasses.replace(generate_bank(4, "2pl", rng=np.random.default_rng(5)),
                               family=np.array([1, 2, 1, 3]))
    np.testing.assert_array_equal(bank.same_family([0]), [True, False, True, False])
    np.testing.assert_array_equal(bank.subset([0, 2]).family, [1, 1])
    assert bank.family_count() == 3 and bank.family_count(np.array([1, 0, 1, 0], bool)) == 1
    assert dataclasses.replace(bank, family=None).family_count(np.array([1, 0, 1, 0], bool)) == 2
    with pytest.raises(ValueError, match="families"):
        dataclasses.replace(bank, family=np.array([1, 2]))


def test_bank_files_carry_families_both_ways():
    from cat_engine.irt import ItemBank

    bank = ItemBank.from_records([{"id": "x", "b": 0.1, "family": "T1"},
                                  {"id": "y", "b": 0.2},
                                  {"id": "z", "b": 0.3, "family": "T1"},
                                  {"id": "w", "b": 0.4, "family": 7}])
    assert bank.family[0] == bank.family[2] and len(set(bank.family.tolist())) == 3
    records = bank.to_records()
    assert [("family" in r) for r in records] == [True, False, True, False]
    again = ItemBank.from_records(records)
    np.testing.assert_array_equal(again.same_family([0]), [True, False, True, False])
    assert "family" not in ItemBank.from_records([{"id": "q", "b": 0}]).to_records()[0]
