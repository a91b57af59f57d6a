import numpy as np
import pytest
from helpers import p3

from cat_engine.grid import Estimate
from cat_engine.scoring import domain_score, theta_for_score
from cat_engine.simulation import generate_bank
from cat_engine.stopping import StoppingRule


def test_domain_score_and_inverse():
    bank = generate_bank(200, "3pl", rng=np.random.default_rng(1))
    for theta in (-2.0, 0.0, 0.7, 2.2):
        score = domain_score(theta, bank.a, bank.b, bank.c)
        # independent formula; tolerance 1e-9
        assert score == pytest.approx(100 * p3(theta, bank.a, bank.b, bank.c).mean(), abs=1e-9)
        # inverse: tolerance 1e-6 on theta (brentq xtol 1e-10)
        assert theta_for_score(score, bank.a, bank.b, bank.c) == pytest.approx(theta, abs=1e-6)
    assert theta_for_score(85, bank.a, bank.b, bank.c) > theta_for_score(70, bank.a, bank.b,
                                                                         bank.c)
    with pytest.raises(ValueError, match="not reachable"):
        theta_for_score(5, bank.a, bank.b, bank.c)  # below the guessing floor 100 * mean(c)
    with pytest.raises(ValueError, match="between 0 and 100"):
        theta_for_score(120, bank.a, bank.b, bank.c)


def test_stopping_rules_combine():
    rule = StoppingRule(min_items=5, max_items=20, se_target=0.3, theta_cut=0.5)
    assert rule.reason(3, Estimate(2.0, 0.1)) is None  # below min_items
    assert rule.reason(5, Estimate(0.0, 0.29)) == "se"
    assert rule.reason(6, Estimate(1.2, 0.35)) == "classified"  # 1.2 - 1.96*0.35 = 0.514 > 0.5
    assert rule.reason(6, Estimate(1.1, 0.35)) is None  # interval covers the cut
    assert rule.reason(6, Estimate(-0.2, 0.35)) == "classified"
    assert rule.reason(20, Estimate(0.5, 1.0)) == "max_items"
    assert not StoppingRule(max_items=30).should_stop(29, Estimate(0, 0.01))
    with pytest.raises(ValueError, match="min_items"):
        StoppingRule(min_items=10, max_items=5)
    with pytest.raises(ValueError, match="se_target"):
        StoppingRule(se_target=-1)
