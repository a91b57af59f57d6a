"""The result of an attempt on PostgreSQL's plain path (``policy._result_plain_case``: one raw
statement for the participant's standing) equals the general ORM path's, field by field,
through a whole program: failed and passed attempts, attempts used up, assignments, the
ujikom's waiting period in the program's time zone, a running attempt and both
certificate routes."""

from __future__ import annotations

import datetime as dt

import pytest
from item_bank_helpers import build_world, enrolled_participants, take
from sqlalchemy import select

from item_bank import admin, policy
from item_bank.models import Attempt


def _results_both_ways(session, monkeypatch, pid: int,
                       now: dt.datetime | None = None) -> list[policy.AttemptResult]:
    """Every attempt's result of participant ``pid`` by both paths; asserts they are equal
    and that the plain path answered each one."""
    ids = list(session.scalars(select(Attempt.id).where(Attempt.participant_id == pid)
                               .order_by(Attempt.id)))
    session.commit()
    kw = {} if now is None else {"now": now}
    plain_case, taken = policy._result_plain_case, []

    def spy(*args, **kwargs):
        outcome = plain_case(*args, **kwargs)
        taken.append(outcome is not None)
        return outcome

    monkeypatch.setattr(policy, "_result_plain_case", spy)
    plain = [policy.attempt_result(session, participant_id=pid, attempt_id=i, **kw) for i in ids]
    monkeypatch.setattr(policy, "_result_plain_case", lambda *args, **kwargs: None)
    general = [policy.attempt_result(session, participant_id=pid, attempt_id=i, **kw)
               for i in ids]
    monkeypatch.setattr(policy, "_result_plain_case", plain_case)
    assert taken == [True] * len(ids)
    assert plain == general
    return plain


# The plain path is PostgreSQL's: the database fixture runs on it only.
@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_plain_results_equal_general_results_through_a_program(session, monkeypatch):
    world = build_world(session, n_assignments=2,
                        settings={"ujikom_waiting_period_s": 3600, "timezone": "Asia/Makassar"})
    pid, certified = enrolled_participants(session, world.program, 2)
    take(session, pid, world.pre.id, right=False)
    steps = {_results_both_ways(session, monkeypatch, pid)[-1].next_step}
    for _ in range(2):
        take(session, pid, world.materi_exams[0].id, right=False)
    results = _results_both_ways(session, monkeypatch, pid)
    assert [r.attempts_left for r in results] == [0, 3, 3]  # what is left now
    take(session, pid, world.materi_exams[0].id, right=True)
    take(session, pid, world.materi_exams[1].id, right=True)
    steps.add(_results_both_ways(session, monkeypatch, pid)[-1].next_step)
    admin.mark_assignment_done(session, assignment_id=world.assignments[0].id,
                               participant_id=pid)
    steps.add(_results_both_ways(session, monkeypatch, pid)[-1].next_step)
    admin.mark_assignment_done(session, assignment_id=world.assignments[1].id,
                               participant_id=pid)
    failed = take(session, pid, world.ujikom.id, right=False)
    finished_at = session.get(Attempt, failed.attempt_id).finished_at
    session.commit()
    waiting = _results_both_ways(session, monkeypatch, pid,
                                 now=finished_at + dt.timedelta(minutes=30))
    assert "WITA" in str(waiting[-1].next_step) and waiting[-1].category == "belum kompeten"
    later = finished_at + dt.timedelta(hours=2)
    running = policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id,
                                   now=later)
    results = _results_both_ways(session, monkeypatch, pid, now=later)
    assert results[-1].attempt_id == running.attempt_id and results[-1].score is None
    steps.add(results[-1].next_step)
    policy.finish_attempt(session, participant_id=pid, attempt_id=running.attempt_id, now=later)
    take(session, pid, world.ujikom.id, right=True, now=later + dt.timedelta(hours=2))
    results = _results_both_ways(session, monkeypatch, pid)
    assert results[-1].category == "kompeten" and results[-1].certificate_number
    steps.add(results[-1].next_step)
    # Every kind of next step came up (the test walks through them, it does not just agree).
    assert len(steps) == 5, steps

    # 15 right answers put the pre-assessment's score far above 85 (5 may fall just short).
    world.pre.min_items = world.pre.max_items = 15
    session.commit()
    assert take(session, certified, world.pre.id, right=True).certificate_number
    results = _results_both_ways(session, monkeypatch, certified)
    assert results[-1].next_step.code == "next_certified_pre_assessment"
