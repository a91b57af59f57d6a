"""Every rule of an attempt, against the pure decision (no database: milliseconds each).

The independent truths: SPEC.md's numbers, brute-force EAP and domain scores computed here
from the items' parameters, and the same attempt continued by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from decide_helpers import (
    T0,
    answer,
    exam,
    finish,
    finished,
    standing,
    window,
    with_standing,
)

from cat_engine.estimation import estimate
from cat_engine.scoring import domain_score
from item_bank.errors import BankExhausted, Conflict, Forbidden, InvalidInput, Locked
from item_bank.models import Assembly, AttemptState, CertificateRoute, ExamKind
from item_bank.policy.decide import Answer, End, Finish, Look, Start, Sweep, decide
from item_bank.policy.facts import CertificateFacts

SECOND = dt.timedelta(seconds=1)


def _start(win, participant=1, seed=7, now=T0) -> int:
    return win.start(participant, seed, now)


def _eap_score(win, attempt_id, *, z: float | None = None) -> tuple[float, float]:
    """Brute force: EAP over every answered and imputed item, scored over the pool (at
    ``theta - z SE`` when ``z`` is given: an unfinished CAT)."""
    responses = win.responses[attempt_id]
    attempt = win.attempts[attempt_id]
    items = [r.item_id for r in responses if r.answered] + list(attempt.imputed)
    u = [int(bool(r.correct)) for r in responses if r.answered] + [0] * len(attempt.imputed)
    idx = np.searchsorted(win.pool.item_ids, items)
    bank = win.pool.bank
    result = estimate(np.array(u), bank.a[idx], bank.b[idx], bank.c[idx], method="eap")
    at = result.theta if z is None else result.theta - z * result.se
    return result.theta, domain_score(at, bank.a, bank.b, bank.c)


# --------------------------------------------------------------------------- the gates


def test_pre_assessment_exactly_once_and_before_the_training():
    pre = exam(ExamKind.PRE_ASSESSMENT, id=1)
    materi = exam(ExamKind.MATERI, id=2, materi_id=1)
    win = window(kind=ExamKind.PRE_ASSESSMENT, id=1)
    once = standing((pre, materi), (finished(1, "pre_assessment", 1, passed=False),))
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, once), Start(1), T0 + dt.timedelta(days=400))
    assert refused.value.code == "pre_assessment_once"
    after = standing((pre, materi), (finished(1, "materi:1", 1, passed=False, exam_id=2),))
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, after), Start(1), T0)
    assert refused.value.code == "pre_assessment_before_training"
    # Even a program setting cannot give the pre-assessment a second attempt.
    win = window(kind=ExamKind.PRE_ASSESSMENT, id=1, max_attempts=3)
    with pytest.raises(Locked):
        decide(with_standing(win, 1, once), Start(1), T0)


def test_materi_needs_the_pre_assessment_and_has_five_attempts():
    pre = exam(ExamKind.PRE_ASSESSMENT, id=1)
    materi = exam(ExamKind.MATERI, id=2)
    win = window(id=2)
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing((pre, materi))), Start(1), T0)
    assert refused.value.code == "pre_assessment_first"
    taken = [finished(1, "pre_assessment", 1, passed=False)]
    for n in range(1, 6):
        decide(with_standing(win, 1, standing((pre, materi), tuple(taken))), Start(1), T0)
        taken.append(finished(1, "materi:1", n, passed=False, exam_id=2))
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing((pre, materi), tuple(taken))), Start(1), T0)
    assert refused.value.code == "attempts_exhausted" and refused.value.params == {
        "max_attempts": 5}
    passed = [taken[0], finished(1, "materi:1", 1, passed=True, exam_id=2)]
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing((pre, materi), tuple(passed))), Start(1), T0)
    assert refused.value.code == "already_passed"


def test_ujikom_gates_attempts_and_waiting_period():
    m1, m2 = exam(ExamKind.MATERI, id=2, materi_id=1), exam(ExamKind.MATERI, id=3, materi_id=2)
    ujikom = exam(ExamKind.UJIKOM, id=4)
    win = window(kind=ExamKind.UJIKOM, id=4, settings={"ujikom_waiting_period_s": 3600})
    exams = (m1, m2, ujikom)
    one = (finished(1, "materi:1", 1, passed=True, exam_id=2),)
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing(exams, one)), Start(1), T0)
    assert refused.value.code == "materi_not_passed" and refused.value.params == {"count": 1}
    both = (*one, finished(1, "materi:2", 1, passed=True, exam_id=3))
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing(exams, both, assignments=(2, 1))), Start(1), T0)
    assert refused.value.code == "assignments_not_done" and refused.value.params == {"count": 1}
    settings = {"ujikom_waiting_period_s": 3600}
    failed = (*both, finished(1, "ujikom", 1, passed=False, exam_id=4))
    ready = with_standing(win, 1, standing(exams, failed, settings=settings))
    with pytest.raises(Locked) as refused:
        decide(ready, Start(1), T0 + dt.timedelta(minutes=59))
    assert refused.value.code == "waiting_period"
    assert refused.value.params["until"] == T0 + dt.timedelta(hours=1)
    assert decide(ready, Start(1), T0 + dt.timedelta(hours=1)).new_attempt.number == 2
    three = (*failed, finished(1, "ujikom", 2, passed=False, exam_id=4),
             finished(1, "ujikom", 3, passed=False, exam_id=4))
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing(exams, three)), Start(1), T0 + dt.timedelta(days=9))
    assert refused.value.code == "ujikom_attempts_exhausted"


def test_windows_certificate_enrolment_and_bank():
    materi = exam(ExamKind.MATERI, id=1)
    closes = T0 + dt.timedelta(hours=2)
    win = window(id=1, window_opens_at=T0, window_closes_at=closes,
                 settings={"exam_duration_s": 5400})
    load = win.start_load(1)
    with pytest.raises(Locked) as refused:
        decide(load, Start(1), T0 - SECOND)
    assert refused.value.code == "window_not_open"
    with pytest.raises(Locked) as refused:
        decide(load, Start(1), closes)
    assert refused.value.code == "window_closed"
    # The deadline is the earlier of the duration and the window's close.
    assert decide(load, Start(1), T0).new_attempt.deadline == T0 + dt.timedelta(minutes=90)
    late = T0 + dt.timedelta(minutes=100)
    assert decide(load, Start(1), late).new_attempt.deadline == closes
    cert = CertificateFacts("X-1", CertificateRoute.PRE_ASSESSMENT, 5)
    with pytest.raises(Locked) as refused:
        decide(with_standing(win, 1, standing((materi,), certificate=cert)), Start(1), T0)
    assert refused.value.code == "certified"
    with pytest.raises(Forbidden):
        decide(dataclasses.replace(load, enrolled=False), Start(1), T0)
    # RULE: refused at start, never mid-way, when fewer unseen items remain than the length.
    small = window(id=1, n_items=29)
    with pytest.raises(BankExhausted) as refused:
        decide(small.start_load(1), Start(1), T0)
    assert refused.value.params == {"exam": small.exam.code, "needed": 30, "available": 29}


# --------------------------------------------------------------------------- answers


def test_answer_refusals_and_idempotent_repeat():
    win = window()
    attempt = _start(win)
    item_id, key = win.shown_key(attempt)
    with pytest.raises(Conflict) as refused:
        win.event(attempt, Answer(item_id + 10_000, 0, "T"), T0)
    assert refused.value.code == "item_not_in_attempt"
    with pytest.raises(InvalidInput) as refused:
        win.event(attempt, Answer(item_id, 4, "T"), T0)
    assert refused.value.code == "choice_out_of_range" and refused.value.params == {
        "choice": 4, "last": 3}
    first = win.event(attempt, Answer(item_id, key, "T"), T0)
    assert first.answer.correct and len(first.present) == 1
    again = win.event(attempt, Answer(item_id, key, "T"), T0 + SECOND)
    assert not again.writes  # the same answer again changes nothing
    with pytest.raises(Conflict) as refused:
        win.event(attempt, Answer(item_id, (key + 1) % 4, "T"), T0)
    assert refused.value.code == "answered_with_other_option"
    second = first.present[0].item_id
    assert second != item_id
    # Only the current item can be answered.
    win.responses[attempt].append(win.responses[attempt][-1]._replace(id=99, item_id=77,
                                                                      position=3))
    with pytest.raises(Conflict) as refused:
        win.event(attempt, Answer(77, 0, "T"), T0)
    assert refused.value.code == "not_current_item"


def test_no_item_twice_in_a_program():
    win = window(n_items=120)
    seen: set[int] = set()
    shown = 0
    for number in range(3):
        attempt = _start(win, seed=number, now=T0 + dt.timedelta(days=number))
        while win.attempts[attempt].running:
            answer(win, attempt, right=False, now=T0 + dt.timedelta(days=number))
        items = {r.item_id for r in win.responses[attempt]}
        assert not items & seen
        seen |= items
        shown += len(win.responses[attempt])
    assert len(seen) == shown >= 3 * win.settings.min_items


def test_after_the_deadline_no_item_is_presented():
    win = window(settings={"answer_grace_s": 5, "exam_duration_s": 600})
    attempt = _start(win)
    deadline = win.attempts[attempt].deadline
    answer(win, attempt, right=True, now=deadline - SECOND)
    # Within the grace: the answer is stored, it ends the attempt, and no item follows.
    in_flight = answer(win, attempt, right=True, now=deadline + 4 * SECOND)
    assert in_flight.answer is not None and not in_flight.present
    assert in_flight.finish.state == AttemptState.EXPIRED
    assert in_flight.finish.stop_reason == "time"


def test_an_answer_after_the_grace_is_refused_and_the_attempt_ends():
    win = window(settings={"answer_grace_s": 5, "exam_duration_s": 600})
    attempt = _start(win)
    deadline = win.attempts[attempt].deadline
    item_id, key = win.shown_key(attempt)
    with pytest.raises(Conflict) as refused:
        win.event(attempt, Answer(item_id, key, "T"), deadline + 6 * SECOND)
    assert refused.value.code == "time_up"
    assert win.attempts[attempt].state == AttemptState.EXPIRED  # kept despite the refusal
    assert not any(r.answered for r in win.responses[attempt])


def test_views_end_a_running_attempt_at_the_deadline_the_sweeper_after_the_grace():
    win = window(settings={"answer_grace_s": 5, "exam_duration_s": 600})
    attempt = _start(win)
    deadline = win.attempts[attempt].deadline
    load = win.load(attempt)
    assert not decide(load, Look("T"), deadline).writes
    assert not decide(load, Sweep("T"), deadline + 5 * SECOND).writes
    assert decide(load, Sweep("T"), deadline + 6 * SECOND).finish.state == AttemptState.EXPIRED
    assert decide(load, Look("T"), deadline + SECOND).finish.state == AttemptState.EXPIRED


def test_an_invigilators_end_grades_as_a_confirmed_finish_and_is_audited():
    win = window(settings={"answer_grace_s": 5, "exam_duration_s": 600})
    attempt = _start(win)
    deadline = win.attempts[attempt].deadline
    item_id, key = win.shown_key(attempt)
    win.event(attempt, Answer(item_id, key, "T"), deadline - 60 * SECOND)
    load = win.load(attempt)
    ended = decide(load, End("T", "pengawas"), deadline - 30 * SECOND)
    finished = decide(load, Finish(True, "T"), deadline - 30 * SECOND)
    assert ended.finish.state == AttemptState.SUBMITTED and ended.finish.stop_reason == "ended"
    # the grade of the participant's own confirmed Finish: the same rules, the same marks
    assert (ended.finish.score, ended.finish.passed, ended.finish.imputed) == (
        finished.finish.score, finished.finish.passed, finished.finish.imputed)
    assert [(e.actor, e.action) for e in ended.audit][-1] == ("pengawas", "attempt_ended")
    # past the deadline it is the clock's end; once final, nothing
    late = decide(load, End("T", "pengawas"), deadline + SECOND)
    assert (late.finish.state, late.finish.stop_reason) == (AttemptState.EXPIRED, "time")
    win.event(attempt, End("T", "pengawas"), deadline - 30 * SECOND)
    assert not decide(win.load(attempt), End("T", "pengawas"), deadline).writes


# --------------------------------------------------------------------------- short attempts


GAMED = {"min_items": 8, "max_items": 20, "materi_pass_score": 70}


def test_two_right_answers_then_finish_does_not_pass():
    win = window(settings=GAMED)
    attempt = _start(win)
    answer(win, attempt, right=True)
    answer(win, attempt, right=True)
    with pytest.raises(Conflict) as refused:
        finish(win, attempt)
    assert refused.value.code == "finish_needs_confirmation"
    assert refused.value.params == {"answered": 2, "min_items": 8, "missing": 6}
    assert win.attempts[attempt].running
    done = finish(win, attempt, confirmed=True).finish
    assert done.state == AttemptState.SUBMITTED and not done.passed and done.score < 70
    assert len(done.imputed) == 6
    # Brute force: EAP over 2 right and 6 wrong answers, scored over the pool at the lower
    # end of theta's 95% interval (the attempt ended before the CAT's own stopping rule).
    theta, score = _eap_score(win, attempt, z=1.96)
    assert done.theta == pytest.approx(theta, abs=1e-9)
    assert done.score == pytest.approx(score, abs=1e-9)
    # Without the rule the same two answers would have passed (what the rule is for).
    bank = win.pool.bank
    two = [r for r in win.responses[attempt] if r.answered]
    idx = np.searchsorted(win.pool.item_ids, [r.item_id for r in two])
    naive = estimate(np.ones(2), bank.a[idx], bank.b[idx], bank.c[idx]).theta
    assert domain_score(naive, bank.a, bank.b, bank.c) > domain_score(done.theta, bank.a,
                                                                        bank.b, bank.c)


def test_an_attempt_that_expires_after_two_right_answers_does_not_pass():
    win = window(settings={**GAMED, "exam_duration_s": 600})
    attempt = _start(win)
    answer(win, attempt, right=True)
    answer(win, attempt, right=True)
    deadline = win.attempts[attempt].deadline
    ended = win.event(attempt, Sweep("T"), deadline + 6 * SECOND).finish
    assert ended.state == AttemptState.EXPIRED and not ended.passed and len(ended.imputed) == 6


def test_imputed_items_are_the_items_the_cat_gives_next():
    """The independent check: the same attempt continued by hand with wrong answers shows the
    same items and reaches the same estimate."""
    short, full = window(settings=GAMED), window(settings=GAMED)
    a, b = _start(short), _start(full)
    for _ in range(3):
        answer(short, a, right=True)
        answer(full, b, right=True)
    done = finish(short, a, confirmed=True).finish
    for _ in range(5):
        answer(full, b, right=False)
    shown = [r.item_id for r in full.responses[b]]
    assert list(done.imputed) == shown[3:8]
    by_hand = [r for r in full.responses[b] if r.answered][:8]
    idx = np.searchsorted(full.pool.item_ids, [r.item_id for r in by_hand])
    bank = full.pool.bank
    theta = estimate(np.array([int(r.correct) for r in by_hand]), bank.a[idx], bank.b[idx],
                     bank.c[idx]).theta
    assert done.theta == pytest.approx(theta, abs=1e-9)


def test_no_answer_at_all_counts_the_minimum_as_wrong():
    win = window(settings=GAMED)
    attempt = _start(win)
    done = finish(win, attempt, confirmed=True).finish
    assert len(done.imputed) == 8 and not done.passed
    assert done.imputed[0] == win.responses[attempt][0].item_id  # the item on the screen


def test_finish_after_the_minimum_scores_the_answers_given():
    win = window(settings=GAMED)
    attempt = _start(win)
    for _ in range(8):
        if not win.attempts[attempt].running:
            break
        answer(win, attempt, right=True)
    if win.attempts[attempt].running:
        done = finish(win, attempt).finish  # no confirmation needed at the minimum
        assert done.imputed == () and done.stop_reason == "submitted"
    unfinished = win.attempts[attempt].stop_reason == "submitted"
    _theta, score = _eap_score(win, attempt, z=1.96 if unfinished else None)
    assert win.attempts[attempt].score == pytest.approx(score, abs=1e-9)


def test_an_unfinished_cat_passes_only_when_its_evidence_decides_the_pass():
    """Finish before the CAT's own end is scored at theta - 1.96 SE: the point estimate of a
    shortened test would reward stopping at a lucky moment."""
    win = window(settings={"min_items": 3, "max_items": 20, "se_target": 0.01})
    attempt = _start(win)
    for _ in range(3):
        answer(win, attempt, right=True)
    assert win.attempts[attempt].running  # not classified yet: the CAT would go on
    done = finish(win, attempt).finish
    theta_point, point = _eap_score(win, attempt)
    _theta, bound = _eap_score(win, attempt, z=1.96)
    assert done.theta == pytest.approx(theta_point, abs=1e-9)
    assert done.score == pytest.approx(bound, abs=1e-9) and bound < point
    # The same answers ended by the CAT itself (its maximum) are scored at the estimate.
    fixed = window(settings={"min_items": 3, "max_items": 3})
    attempt = _start(fixed)
    for _ in range(3):
        answer(fixed, attempt, right=True)
    assert fixed.attempts[attempt].stop_reason == "max_items"
    assert fixed.attempts[attempt].score == pytest.approx(_eap_score(fixed, attempt)[1],
                                                          abs=1e-9)


# --------------------------------------------------------------------------- stopping, LOFT


def test_cat_stops_at_the_maximum_and_classifies_early():
    win = window(settings={"min_items": 5, "max_items": 12, "se_target": 0.01})
    attempt = _start(win)
    while win.attempts[attempt].running:
        answer(win, attempt, right=True)
    assert win.attempts[attempt].stop_reason in ("classified", "max_items")
    assert len(win.responses[attempt]) <= 12
    fixed = window(settings={"min_items": 6, "max_items": 6})
    attempt = _start(fixed)
    while fixed.attempts[attempt].running:
        answer(fixed, attempt, right=False)
    assert fixed.attempts[attempt].stop_reason == "max_items"
    assert len(fixed.responses[attempt]) == 6


def test_loft_form_is_fixed_and_unanswered_items_count_as_wrong():
    win = window(assembly=Assembly.LOFT, settings={"max_items": 10})
    attempt = _start(win)
    assert len(win.responses[attempt]) == 10  # the whole form at start
    for _ in range(4):
        answer(win, attempt, right=True)
    with pytest.raises(Conflict) as refused:
        finish(win, attempt)
    assert refused.value.code == "finish_loft_needs_confirmation"
    assert refused.value.params == {"answered": 4, "length": 10, "missing": 6}
    done = finish(win, attempt, confirmed=True).finish
    rows = win.responses[attempt]
    idx = np.searchsorted(win.pool.item_ids, [r.item_id for r in rows])
    bank = win.pool.bank
    u = np.array([int(bool(r.correct)) for r in rows])
    theta = estimate(u, bank.a[idx], bank.b[idx], bank.c[idx]).theta
    assert done.theta == pytest.approx(theta, abs=1e-9) and done.imputed == ()


def test_the_bank_running_out_ends_the_cat():
    win = window(n_items=40, settings={"min_items": 30, "max_items": 30})
    # 12 of the 40 items already seen in the program: 28 left for a 30-item test... refused.
    attempt = _start(win)
    win.seen[1] |= set(int(i) for i in win.pool.item_ids[:15]) - {
        r.item_id for r in win.responses[attempt]}
    while win.attempts[attempt].running:
        answer(win, attempt, right=True)
    assert win.attempts[attempt].stop_reason == "bank"


# --------------------------------------------------------------------------- certificates


def test_pre_assessment_certificate_once():
    win = window(kind=ExamKind.PRE_ASSESSMENT, settings={"min_items": 15, "max_items": 15})
    attempt = _start(win)
    for _ in range(14):
        answer(win, attempt, right=True, now=T0)
    last = win.load(attempt)
    effects = answer(win, attempt, right=True, now=T0)
    assert effects.finish.passed and effects.finish.score >= 85
    assert effects.certificate.route == CertificateRoute.PRE_ASSESSMENT
    assert effects.certificate.number == f"SIM-{T0:%Y}-TOKEN"
    assert [e.action for e in effects.audit] == ["attempt_finished", "certificate_issued"]
    # Already certified (a race the gates cannot see): the same pass issues no second one.
    item_id = last.pending.item_id
    key = last.pending.shown_order.index(last.pending_key)
    again = decide(dataclasses.replace(last, certified=True), Answer(item_id, key, "T"), T0)
    assert again.finish.passed and again.certificate is None
    assert [e.action for e in again.audit] == ["attempt_finished"]


def test_items_retired_during_the_attempt_are_scored_with_their_own_parameters():
    win = window(settings={"min_items": 3, "max_items": 3})
    attempt = _start(win)
    answer(win, attempt, right=True)
    gone = win.responses[attempt][0].item_id
    keep = win.pool.item_ids != gone
    i = int(np.searchsorted(win.pool.item_ids, gone))
    params = (float(win.pool.bank.a[i]), float(win.pool.bank.b[i]), 0.0)
    retired = dataclasses.replace(win.pool, item_ids=win.pool.item_ids[keep],
                                  bank=win.pool.bank.subset(keep),
                                  n_options=win.pool.n_options[keep], configs={}, theta_cuts={},
                                  texts={})
    load = dataclasses.replace(win.load(attempt), pool=retired, outside={gone: params})
    item_id, key = win.shown_key(attempt)
    effects = decide(load, Answer(item_id, key, "T"), T0)
    assert effects.present and effects.present[0].item_id != gone
