"""Invariants under concurrent requests, on SQLite and PostgreSQL (acceptance 1).

Every thread has its own session (its own connection); a barrier releases them together.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from item_bank_helpers import build_world, enrolled_participants, shown_position_of_key, take
from sqlalchemy import func, select

from item_bank import policy
from item_bank.db import db_now, lock_with_clock
from item_bank.errors import Locked
from item_bank.models import Attempt, Exam, ItemExposure, Participant, Response, SeenItem

THREADS = 20


def _race(Session, main_session, call: Callable, n: int = THREADS) -> list:  # noqa: N803
    """Run ``call(session)`` in ``n`` threads at once; return results or raised exceptions.

    The test's own session first ends its transaction: on SQLite an open transaction holds the
    write lock (BEGIN IMMEDIATE) and would block every thread.
    """
    main_session.commit()
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        with Session() as session:
            barrier.wait()
            try:
                results[i] = call(session)
            except Exception as exc:  # collected and asserted on by the test
                results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_simultaneous_pre_assessment_starts_make_one_attempt(Session, session):  # noqa: N803
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    results = _race(Session, session, lambda s: policy.start_attempt(s, participant_id=pid,
                                                            exam_id=world.pre.id))
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    assert len({r.attempt_id for r in results}) == 1
    assert sum(not r.resumed for r in results) == 1
    assert session.scalar(select(func.count(Attempt.id))) == 1
    session.expire_all()
    assert session.get(Exam, world.pre.id).attempts_started == 1  # resumes are not counted
    # One first item shown, once.
    assert session.scalar(select(func.count(Response.id))) == 1
    assert session.scalar(select(func.count(SeenItem.id))) == 1


def test_twenty_simultaneous_sixth_materi_attempts_make_none(Session, session):  # noqa: N803
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    take(session, pid, world.pre.id, right=False)
    exam = world.materi_exams[0]
    for _ in range(5):
        assert not take(session, pid, exam.id, right=False).passed
    before = session.scalar(select(func.count(Attempt.id)))
    results = _race(Session, session, lambda s: policy.start_attempt(s, participant_id=pid,
                                                            exam_id=exam.id))
    assert all(isinstance(r, Locked) for r in results), results[:3]
    assert session.scalar(select(func.count(Attempt.id))) == before == 6


def test_same_answer_posted_concurrently_is_stored_once(Session, session):  # noqa: N803
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    choice = shown_position_of_key(session, view.attempt_id, item.item_id)
    results = _race(Session, session, lambda s: policy.record_answer(
        s, participant_id=pid, attempt_id=view.attempt_id, item_id=item.item_id, choice=choice))
    assert not [r for r in results if isinstance(r, Exception)]
    assert Counter(r.stored for r in results) == {True: 1, False: THREADS - 1}
    session.expire_all()
    answered = session.scalars(select(Response).where(
        Response.attempt_id == view.attempt_id, Response.answered_at.is_not(None))).all()
    assert len(answered) == 1 and answered[0].correct
    # Exactly one next item was presented (position 2), not one per request.
    assert session.scalar(select(func.count(Response.id))) == 2


def test_many_participants_start_one_exam_at_once(Session, session):  # noqa: N803
    world = build_world(session)
    pids = enrolled_participants(session, world.program, THREADS)
    it = iter(pids)
    lock = threading.Lock()

    def start(s):
        with lock:
            pid = next(it)
        return policy.start_attempt(s, participant_id=pid, exam_id=world.pre.id)

    results = _race(Session, session, start)
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.attempt_id for r in results}) == THREADS
    # The exposure counts add up to the items shown (atomic upserts, no lost update).
    shown = session.scalar(select(func.count(Response.id)))
    assert session.scalar(select(func.sum(ItemExposure.count))) == shown == THREADS
    # The exposure cap's attempt counter lost no start either.
    session.expire_all()
    assert session.get(Exam, world.pre.id).attempts_started == THREADS


def test_the_time_of_a_request_is_read_after_waiting_for_the_participants_lock(
        Session, session):  # noqa: N803
    """A request that waited for the participant's lock (a double click, a retry) must not use
    the time from before its wait: deadlines and answer times would be off by the wait."""
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    session.commit()
    holding, released = threading.Event(), {}

    def hold() -> None:
        with Session() as first:
            lock_with_clock(first, Participant, pid)
            holding.set()
            time.sleep(0.5)
            released["at"] = db_now(first)
            first.commit()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    with Session() as second:
        clock = lock_with_clock(second, Participant, pid)
        second.commit()
    holder.join()
    assert clock >= released["at"]
    with Session() as third:
        assert lock_with_clock(third, Participant, -1) is None
