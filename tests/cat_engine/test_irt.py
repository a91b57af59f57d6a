import numpy as np
import pytest
from helpers import FINE, loglik, p3, random_items

from cat_engine.irt import (
    ItemBank,
    information,
    load_bank,
    max_information,
    probability,
    save_bank,
    test_information,
)


def test_probability_matches_formula_and_shapes():
    rng = np.random.default_rng(1)
    a, b, c = random_items(rng, 50)
    thetas = rng.normal(size=7)
    # tolerance 1e-12: two algebraically equal forms of the same formula
    np.testing.assert_allclose(probability(thetas, a, b, c), p3(thetas[:, None], a, b, c),
                               rtol=1e-12)
    assert probability(0.3, a, b, c).shape == (50,)
    assert probability(thetas, a, b, c).shape == (7, 50)


@pytest.mark.parametrize("model", ["1pl", "2pl", "3pl"])
def test_information_is_expected_negative_second_derivative(model):
    """I(theta) = -E[d^2/dtheta^2 log P(u | theta)], by central differences."""
    rng = np.random.default_rng(2)
    a, b, c = random_items(rng, 40, model)
    h = 1e-4
    for theta in (-2.0, -0.3, 0.0, 1.1, 2.5):
        expected = np.empty(a.size)
        for i in range(a.size):
            d2 = [
                (loglik(theta + h, np.array([u]), a[i:i + 1], b[i:i + 1], c[i:i + 1])
                 - 2 * loglik(theta, np.array([u]), a[i:i + 1], b[i:i + 1], c[i:i + 1])
                 + loglik(theta - h, np.array([u]), a[i:i + 1], b[i:i + 1], c[i:i + 1])) / h**2
                for u in (0.0, 1.0)
            ]
            p = p3(theta, a[i], b[i], c[i])
            expected[i] = -((1 - p) * d2[0] + p * d2[1])
        # tolerance 1e-5 absolute: finite-difference error O(h^2) plus rounding O(eps / h^2)
        np.testing.assert_allclose(information(theta, a, b, c), expected, atol=1e-5)
        assert test_information(theta, a, b, c) == pytest.approx(expected.sum(), abs=1e-4)


def test_max_information_matches_grid_search():
    rng = np.random.default_rng(3)
    a, b, c = random_items(rng, 30)
    where, height = max_information(a, b, c)
    info = information(FINE, a, b, c)
    # tolerance: half the grid step for the location, 1e-6 relative for the height
    np.testing.assert_allclose(where, FINE[info.argmax(axis=0)], atol=0.0007)
    np.testing.assert_allclose(height, info.max(axis=0), rtol=1e-6)


@pytest.mark.parametrize(
    "a, b, c, message",
    [
        ([1.0, 0.0], [0, 0], [0, 0], "a must be > 0"),
        ([1.0, -1.0], [0, 0], [0, 0], "a must be > 0"),
        ([1.0, 1.0], [0, 0], [0, 1.0], "c must be in"),
        ([1.0, 1.0], [0, 0], [-0.1, 0], "c must be in"),
        ([1.0, np.nan], [0, 0], [0, 0], "NaN"),
        ([1.0, 1.0], [0, np.nan], [0, 0], "NaN"),
        ([1.0, 1.0], [0, 0, 0], [0, 0], "mismatched lengths"),
    ],
)
def test_bad_parameters_raise(a, b, c, message):
    with pytest.raises(ValueError, match=message):
        probability(0.0, a, b, c)
    with pytest.raises(ValueError, match=message):
        ItemBank(ids=np.array([str(i) for i in range(len(a))]), a=np.array(a), b=np.array(b),
                 c=np.array(c), content=np.full(len(a), ""))


def test_bank_records_round_trip_and_errors(tmp_path):
    records = [{"id": "x1", "a": 1.2, "b": -0.5, "c": 0.2, "content": "tata"},
               {"id": "x2", "a": 0.8, "b": 1.0, "c": 0.0}]
    bank = ItemBank.from_records(records)
    assert bank.to_records() == records
    save_bank(bank, tmp_path / "bank.json")
    assert load_bank(tmp_path / "bank.json").to_records() == records
    assert len(bank.subset(np.array([1]))) == 1
    with pytest.raises(ValueError, match="empty"):
        ItemBank.from_records([])
    with pytest.raises(ValueError, match="unique"):
        ItemBank.from_records([records[0], records[0]])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_bank(tmp_path / "bad.json")
