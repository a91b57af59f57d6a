"""The two stores load the same facts and write the same rows, for every event type.

One scripted program (fixed seeds, tokens and clock) runs three times: the ORM store on
SQLite, the ORM store on PostgreSQL and the PostgreSQL store.  The script meets every event
and every ending: starts and resumes, right and wrong answers, a repeated answer, an answer
with another option, an item that is not the current one, a choice out of range, a short
Finish refused then confirmed, LOFT forms, the deadline (an answer within the grace, one after
it, the sweeper), items retired mid-attempt and the bank running out, and both certificate
routes.  The three runs must return the same replies and leave the same rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from item_bank_helpers import build_world, enrolled_participants, shown_position_of_key
from sqlalchemy import select

from item_bank import admin, policy
from item_bank.db import make_engine, session_factory
from item_bank.errors import DomainError
from item_bank.models import (
    Attempt,
    AuditLog,
    Certificate,
    Exam,
    Item,
    ItemExposure,
    Response,
    SeenItem,
)
from item_bank.policy.store_orm import OrmStore

T0 = dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
SETTINGS = {"min_items": 4, "max_items": 6, "exam_duration_s": 1800, "answer_grace_s": 5,
            "ujikom_waiting_period_s": 0, "pre_assessment_certificate_score": 60}


class Script:
    """Policy calls at fixed times; every reply and refusal is recorded."""

    def __init__(self, session) -> None:
        self.s = session
        self.log: list[Any] = []

    def call(self, name: str, **kwargs) -> Any:
        try:
            reply = getattr(policy, name)(self.s, **kwargs)
        except DomainError as refusal:
            self.log.append((name, type(refusal).__name__, refusal.code, refusal.params))
            return refusal
        self.log.append((name, reply))
        return reply

    def answer(self, pid: int, attempt_id: int, right: bool, now: dt.datetime, *,
               item_id: int | None = None) -> Any:
        item = self.call("current_item", participant_id=pid, attempt_id=attempt_id, now=now)
        if item is None or isinstance(item, DomainError):
            return item
        key = shown_position_of_key(self.s, attempt_id, item.item_id)
        self.s.commit()
        return self.call("record_answer", participant_id=pid, attempt_id=attempt_id,
                         item_id=item_id or item.item_id,
                         choice=key if right else (key + 1) % len(item.options), now=now)

    def take(self, pid: int, exam_id: int, now: dt.datetime, right: bool) -> Any:
        view = self.call("start_attempt", participant_id=pid, exam_id=exam_id, now=now)
        while True:
            outcome = self.answer(pid, view.attempt_id, right, now)
            if outcome is None or outcome.finished:
                return view


def _script(session) -> list[Any]:
    world = build_world(session, n_materi=2, items_per_materi=40, settings=SETTINGS,
                        n_assignments=1, seed=11, pretest_per_materi=4)
    loft = admin.add_exam(session, world.program, code="EX-M2-LOFT", kind="materi",
                          materi=world.materi[1], assembly="loft")
    a, b, c, d = enrolled_participants(session, world.program, 4)
    run = Script(session)
    pre, (m1, m2), ujikom = world.pre.id, [e.id for e in world.materi_exams], world.ujikom.id
    loft_id = loft.id

    # a: the pre-assessment passed (score >= 60): certificate by the pre-assessment route.
    run.take(a, pre, T0, right=True)
    # b: refusals on a running attempt, a resume, a short finish refused then confirmed.
    view = run.call("start_attempt", participant_id=b, exam_id=pre, now=T0)
    run.call("start_attempt", participant_id=b, exam_id=pre, now=T0 + MIN)  # resumes
    first = run.answer(b, view.attempt_id, True, T0 + MIN)
    run.call("record_answer", participant_id=b, attempt_id=view.attempt_id,
             item_id=first.next_item.item_id, choice=9, now=T0 + MIN)  # choice out of range
    answered, chosen = session.execute(select(Response.item_id, Response.shown_choice).where(
        Response.attempt_id == view.attempt_id, Response.answered_at.is_not(None))).one()
    session.commit()
    run.call("record_answer", participant_id=b, attempt_id=view.attempt_id, item_id=answered,
             choice=(chosen + 1) % 4, now=T0 + MIN)  # another option for an answered item
    run.call("record_answer", participant_id=b, attempt_id=view.attempt_id, item_id=10**6,
             choice=0, now=T0 + 2 * MIN)  # not in the attempt
    run.call("finish_attempt", participant_id=b, attempt_id=view.attempt_id, now=T0 + 2 * MIN)
    run.call("finish_attempt", participant_id=b, attempt_id=view.attempt_id, confirmed=True,
             now=T0 + 2 * MIN)
    run.call("attempt_result", participant_id=b, attempt_id=view.attempt_id, now=T0 + 3 * MIN)
    # b: materi 1 by CAT, wrong: a remedial, then passed; materi 2 by LOFT with a repeat.
    run.take(b, m1, T0 + 10 * MIN, right=False)
    run.take(b, m1, T0 + 20 * MIN, right=True)
    view = run.call("start_attempt", participant_id=b, exam_id=loft_id, now=T0 + 30 * MIN)
    for _ in range(3):
        outcome = run.answer(b, view.attempt_id, True, T0 + 31 * MIN)
    item = outcome.next_item
    later = session.scalar(select(Response.item_id).where(
        Response.attempt_id == view.attempt_id, Response.position == item.position + 1))
    key = shown_position_of_key(session, view.attempt_id, item.item_id)
    session.commit()
    run.call("record_answer", participant_id=b, attempt_id=view.attempt_id, item_id=later,
             choice=0, now=T0 + 32 * MIN)  # a later item of the form: not the current one
    for _ in range(2):  # the same answer twice: stored once
        run.call("record_answer", participant_id=b, attempt_id=view.attempt_id,
                 item_id=item.item_id, choice=key, now=T0 + 32 * MIN)
    run.call("finish_attempt", participant_id=b, attempt_id=view.attempt_id, now=T0 + 33 * MIN)
    run.call("finish_attempt", participant_id=b, attempt_id=view.attempt_id, confirmed=True,
             now=T0 + 33 * MIN)
    run.take(b, m2, T0 + 40 * MIN, right=True)
    admin.mark_assignment_done(session, assignment_id=world.assignments[0].id, participant_id=b)
    # b: the ujikom passed: certificate by the ujikom route.
    run.take(b, ujikom, T0 + 50 * MIN, right=True)
    run.call("program_status", participant_id=b, program_id=world.program.id,
             now=T0 + 51 * MIN)

    # c: the deadline: an answer within the grace ends the attempt, one after it is refused.
    view = run.call("start_attempt", participant_id=c, exam_id=pre, now=T0)
    deadline = view.deadline
    run.answer(c, view.attempt_id, True, deadline - dt.timedelta(seconds=1))
    item = session.scalar(select(Response.item_id).where(
        Response.attempt_id == view.attempt_id, Response.answered_at.is_(None)))
    session.commit()
    run.call("record_answer", participant_id=c, attempt_id=view.attempt_id, item_id=item,
             choice=0, now=deadline + dt.timedelta(seconds=4))
    view = run.call("start_attempt", participant_id=c, exam_id=m1, now=deadline + MIN)
    item = run.call("current_item", participant_id=c, attempt_id=view.attempt_id,
                    now=deadline + MIN)
    run.call("record_answer", participant_id=c, attempt_id=view.attempt_id,
             item_id=item.item_id, choice=0, now=view.deadline + dt.timedelta(seconds=6))
    # d: abandoned after one answer; the sweeper ends it after the grace.
    view = run.call("start_attempt", participant_id=d, exam_id=pre, now=T0)
    run.answer(d, view.attempt_id, True, T0)
    run.log.append(("sweep", policy.expire_due_attempts(session, now=view.deadline)))
    run.log.append(("sweep", policy.expire_due_attempts(
        session, now=view.deadline + dt.timedelta(seconds=6))))
    # d: items retired mid-attempt (answered ones included), then the bank runs out.
    view = run.call("start_attempt", participant_id=d, exam_id=m2,
                    now=view.deadline + 10 * MIN)
    now = view.deadline - MIN
    run.answer(d, view.attempt_id, True, now)
    shown = set(session.scalars(select(Response.item_id).where(
        Response.attempt_id == view.attempt_id)))
    seen = set(session.scalars(select(SeenItem.item_id).where(SeenItem.participant_id == d)))
    materi = session.scalar(select(Exam.materi_id).where(Exam.id == m2))
    retire = list(session.scalars(select(Item).where(Item.materi_id == materi)
                                  .order_by(Item.id)))
    keep = [i for i in retire if i.id not in seen][:2]
    for row in retire:
        if row not in keep and (row.id not in shown or row.id == min(shown)):
            row.transition("retired")
    session.commit()
    for _ in range(4):
        outcome = run.answer(d, view.attempt_id, True, now)
        if outcome is None or isinstance(outcome, DomainError) or outcome.finished:
            break
    return run.log


def _rows(session) -> dict[str, list]:
    def rows(*columns, order):
        return [tuple(r) for r in session.execute(select(*columns).order_by(*order))]

    return {
        "attempt": rows(Attempt.id, Attempt.participant_id, Attempt.exam_id, Attempt.slot,
                        Attempt.number, Attempt.state, Attempt.started_at, Attempt.deadline,
                        Attempt.finished_at, Attempt.seed, Attempt.theta, Attempt.se,
                        Attempt.score, Attempt.passed, Attempt.stop_reason,
                        Attempt.imputed_items, order=[Attempt.id]),
        "response": rows(Response.id, Response.attempt_id, Response.item_id, Response.position,
                         Response.shown_order, Response.shown_choice, Response.choice,
                         Response.correct, Response.presented_at, Response.answered_at,
                         Response.pretest, Response.param_version, order=[Response.id]),
        "seen_item": rows(SeenItem.id, SeenItem.participant_id, SeenItem.program_id,
                          SeenItem.item_id, SeenItem.attempt_id, order=[SeenItem.id]),
        # PostgreSQL spends a sequence value on every upsert that updates: no ids here.
        "item_exposure": rows(ItemExposure.exam_id, ItemExposure.item_id, ItemExposure.count,
                              order=[ItemExposure.exam_id, ItemExposure.item_id]),
        "certificate": rows(Certificate.id, Certificate.number, Certificate.participant_id,
                            Certificate.attempt_id, Certificate.route, Certificate.score,
                            Certificate.issued_at, order=[Certificate.id]),
        "audit_log": rows(AuditLog.id, AuditLog.actor, AuditLog.action, AuditLog.subject,
                          AuditLog.details, order=[AuditLog.id]),
        "exam": rows(Exam.id, Exam.attempts_started, order=[Exam.id]),
    }


def _run(db_url: str, store: str, monkeypatch) -> tuple[list, dict]:
    seeds = itertools.count(1000)
    tokens = (f"T{n:04d}" for n in itertools.count())
    monkeypatch.setattr(policy.secrets, "randbits", lambda _bits: next(seeds))
    monkeypatch.setattr(policy, "_token", lambda: next(tokens))
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            if store == "orm":
                session.info[policy.STORE] = "orm"
            used = []
            original = OrmStore.__init__

            def spy(self, s):
                used.append(s is session)
                original(self, s)

            monkeypatch.setattr(OrmStore, "__init__", spy)
            log = _script(session)
            rows = _rows(session)
            monkeypatch.setattr(OrmStore, "__init__", original)
            # The PostgreSQL store takes every event there (only enrol, the sweeper's scan and
            # the script's own reads use the session); the ORM store takes them elsewhere.
            assert (len(used) > 40) == (store == "orm"), len(used)
            return log, rows
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_both_stores_write_the_same_rows(sqlite_template, tmp_path, postgres_database,
                                         postgres_template, monkeypatch):
    import shutil

    path = tmp_path / "stores.sqlite"
    shutil.copyfile(sqlite_template, path)
    runs = {"orm on SQLite": _run(f"sqlite:///{path}", "orm", monkeypatch),
            "orm on PostgreSQL": _run(postgres_database("stores", postgres_template), "orm",
                                      monkeypatch),
            "PostgreSQL store": _run(postgres_database("stores", postgres_template), "pg",
                                     monkeypatch)}
    (log, rows), *others = runs.values()
    # The script met what it is meant to meet (it does not merely agree with itself).
    codes = {entry[2] for entry in log if len(entry) == 4}
    assert {"choice_out_of_range", "answered_with_other_option", "not_current_item",
            "item_not_in_attempt", "finish_needs_confirmation",
            "finish_loft_needs_confirmation", "time_up"} <= codes, codes
    attempts = rows["attempt"]
    reasons = {a[14] for a in attempts}
    assert {"time", "submitted", "bank", "max_items"} <= reasons, reasons
    assert any(a[15] for a in attempts)  # imputed items stored
    assert {c[4] for c in rows["certificate"]} == {"pre_assessment", "ujikom"}
    assert ("sweep", 0) in log and ("sweep", 1) in log
    # Pretest items were seeded (the response row's pretest column) and written alike.
    assert sum(r[-2] for r in rows["response"]) >= 6
    for name, (other_log, other_rows) in zip(list(runs)[1:], others, strict=True):
        for table in rows:
            assert other_rows[table] == rows[table], (name, table)
        assert [_plain(e) for e in other_log] == [_plain(e) for e in log], name


def _plain(entry: Any) -> Any:
    """A log entry with its dataclasses as dicts (equal values compare equal)."""
    return tuple(dataclasses.asdict(e) if dataclasses.is_dataclass(e) else e for e in entry)
