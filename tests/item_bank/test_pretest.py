"""Pretest seeding in the one decision (docs/item_bank.md "Pretest seeding"), on the in-memory
exam window that runs the same decide() as live exams: simulated examinees with known theta
answer operational items by their 2PL parameters and pretest items by their own."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from item_bank.errors import Conflict
from item_bank.models import Assembly, ExamKind, ProgramSettings
from item_bank.policy.decide import Answer, Finish, pretest_extra
from item_bank.policy.memory import MemoryWindow
from tests.item_bank.decide_helpers import T0, exam, pool

N_PRETEST = 20
PRETEST_FIRST_ID = 5000


def pretest_window(*, n_items: int = 300, n_pretest: int = N_PRETEST, seed: int = 0,
                   settings: dict | None = None, kind: ExamKind = ExamKind.MATERI,
                   **exam_fields) -> tuple[MemoryWindow, dict[int, tuple[float, float]]]:
    """A window whose pool has ``n_pretest`` pretest items; their true (a, b) by id."""
    rng = np.random.default_rng(seed + 7)
    base = pool(n_items, seed=seed)
    ids = np.arange(PRETEST_FIRST_ID, PRETEST_FIRST_ID + n_pretest, dtype=np.int64)
    the_pool = replace(base, pretest_ids=ids, pretest_n_options=np.full(n_pretest, 4))
    truth = {int(i): (float(rng.uniform(0.8, 2.0)), float(rng.normal(0, 1))) for i in ids}
    keys = np.random.default_rng(seed + 1).integers(0, 4, n_items)
    win = MemoryWindow(exam(kind, **exam_fields), the_pool, keys,
                       ProgramSettings.from_json({"ujikom_waiting_period_s": 0,
                                                  **(settings or {})}),
                       pretest_keys=np.random.default_rng(seed + 2).integers(0, 4, n_pretest))
    return win, truth


def params_of(win: MemoryWindow, truth: dict, item_id: int) -> tuple[float, float]:
    if item_id in truth:
        return truth[item_id]
    i = int(np.searchsorted(win.pool.item_ids, item_id))
    return float(win.pool.bank.a[i]), float(win.pool.bank.b[i])


def take(win: MemoryWindow, truth: dict, participant: int, theta: float, rng, *,
         flip_pretest: bool = False, step_s: float = 5.0) -> int:
    """One attempt answered to its end by an examinee of ``theta`` (``flip_pretest``: every
    pretest answer the other way); the attempt id."""
    now = T0
    attempt_id = win.start(participant, seed=1000 + participant, now=now)
    while (shown := win.shown_key(attempt_id)) is not None:
        item_id, key = shown
        a, b = params_of(win, truth, item_id)
        right = rng.random() < 1 / (1 + np.exp(-a * (theta - b)))
        if flip_pretest and item_id in truth:
            right = not right
        now += dt.timedelta(seconds=step_s)
        win.event(attempt_id, Answer(item_id, key if right else (key + 1) % 4, "T"), now)
    return attempt_id


def test_each_attempt_gets_its_pretest_items_inside_never_first_or_last():
    win, truth = pretest_window()
    rng = np.random.default_rng(1)
    rules_min = win.settings.min_items
    for participant in range(1, 61):
        attempt_id = take(win, truth, participant, float(rng.normal()), rng)
        responses = win.responses[attempt_id]
        pretest = [r for r in responses if r.pretest]
        assert len(pretest) == win.settings.pretest_items_materi == 3
        assert all(r.item_id in truth for r in pretest)
        assert not any(r.item_id in truth for r in responses if not r.pretest)
        positions = [r.position for r in pretest]
        assert min(positions) > 1 and max(positions) < len(responses)
        # Each comes after a scored answer among the first min_items - 1.
        for r in pretest:
            scored_before = sum(1 for q in responses if q.position < r.position and not q.pretest)
            assert 1 <= scored_before <= rules_min - 1
        scored = [r for r in responses if not r.pretest]
        assert win.settings.min_items <= len(scored) <= win.settings.max_items
        assert win.attempts[attempt_id].score is not None


def test_pretest_items_collect_answers_at_the_same_pace():
    win, truth = pretest_window()
    rng = np.random.default_rng(2)
    for participant in range(1, 201):
        take(win, truth, participant, float(rng.normal()), rng)
    counts = np.array([win.exposed.get(i, 0) for i in truth])
    assert counts.sum() == 200 * 3
    assert counts.max() - counts.min() <= 1, counts


def test_flipping_pretest_answers_changes_no_score_and_no_scored_item():
    honest, truth = pretest_window(seed=3)
    flipped, _ = pretest_window(seed=3)
    thetas = np.random.default_rng(3).normal(size=40)
    flips = 0
    for participant, theta in enumerate(thetas, 1):
        # The same examinee's answers to the scored items: the same random draws.
        a = take(honest, truth, participant, float(theta), np.random.default_rng(participant))
        b = take(flipped, truth, participant, float(theta), np.random.default_rng(participant),
                 flip_pretest=True)
        ra, rb = honest.responses[a], flipped.responses[b]
        assert [(r.item_id, r.position, r.pretest) for r in ra] == [
            (r.item_id, r.position, r.pretest) for r in rb]
        flips += sum(x.correct != y.correct for x, y in zip(ra, rb, strict=True) if x.pretest)
        fa, fb = honest.attempts[a], flipped.attempts[b]
        assert (fa.theta, fa.se, fa.score, fa.passed) == (fb.theta, fb.se, fb.score, fb.passed)
    assert flips == 40 * 3  # every pretest answer really differed


def test_a_slow_participant_near_the_deadline_gets_no_pretest_item():
    # 600 s for at most 30 items: at 25 s per answer the scored items alone need the time.
    win, truth = pretest_window(settings={"exam_duration_s": 600})
    rng = np.random.default_rng(4)
    slow = take(win, truth, 1, 0.0, rng, step_s=25.0)
    quick = take(win, truth, 2, 0.0, rng, step_s=5.0)
    assert not any(r.pretest for r in win.responses[slow])
    assert sum(r.pretest for r in win.responses[quick]) == 3


def test_no_pretest_in_the_pre_assessment_or_a_loft_form_by_default():
    pre, truth = pretest_window(kind=ExamKind.PRE_ASSESSMENT)
    attempt_id = take(pre, truth, 1, 0.0, np.random.default_rng(5))
    assert not any(r.pretest for r in pre.responses[attempt_id])
    loft, truth = pretest_window(assembly=Assembly.LOFT)
    attempt_id = take(loft, truth, 1, 0.0, np.random.default_rng(5))
    assert not any(r.pretest for r in loft.responses[attempt_id])


def test_pretest_items_run_out_without_repeats_for_a_participant():
    # 4 pretest items, 3 per attempt, materi exam of 5 attempts: the second attempt gets
    # the one left, the third none.
    win, truth = pretest_window(n_pretest=4, settings={"materi_pass_score": 100})
    rng = np.random.default_rng(6)
    got = []
    for _ in range(3):
        attempt_id = take(win, truth, 1, -2.0, rng)
        got.append([r.item_id for r in win.responses[attempt_id] if r.pretest])
    assert [len(g) for g in got] == [3, 1, 0]
    assert len({i for g in got for i in g}) == 4


def test_the_participants_counts_include_pretest_items():
    win, truth = pretest_window()
    attempt_id = win.start(1, seed=77, now=T0)
    load = win.load(attempt_id)
    extra = pretest_extra(load.exam, load.settings, load.pool, load.seen, load.attempt.seed,
                          load.responses)
    assert extra == 3
    # Finish right away: the answers missing are counted as the page counts them.
    with pytest.raises(Conflict) as refused:
        win.event(attempt_id, Finish(False, "T"), T0)
    assert refused.value.params == {"answered": 0, "min_items": 13, "missing": 13}
    # After three scored and pretest answers the numbers still add up.
    rng = np.random.default_rng(7)
    for _ in range(6):
        item_id, key = win.shown_key(attempt_id)
        win.event(attempt_id, Answer(item_id, key if rng.random() < .5 else (key + 1) % 4,
                                     "T"), T0)
    with pytest.raises(Conflict) as refused:
        win.event(attempt_id, Finish(False, "T"), T0)
    params = refused.value.params
    assert params["answered"] == 6 and params["min_items"] == 13 and params["missing"] == 7
