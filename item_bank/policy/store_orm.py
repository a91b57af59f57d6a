"""The store on the SQLAlchemy session: SQLite, and PostgreSQL when asked for it.

It loads the facts :mod:`.decide` needs and writes its effects, nothing else: no rule lives
here.  The participant's row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
transaction holds the write lock from ``BEGIN IMMEDIATE``, see :mod:`item_bank.db`)
serializes the requests of one participant, and the database's constraints back every
invariant (one running attempt per slot, unique attempt numbers, the UNIQUE seen-item set,
one certificate per participant and program).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import lock_with_clock
from ..errors import Conflict, NotFound
from ..models import (
    Assignment,
    AssignmentCompletion,
    Attempt,
    AttemptState,
    AuditLog,
    Certificate,
    Enrolment,
    Exam,
    Item,
    ItemExposure,
    Materi,
    Participant,
    Program,
    ProgramSettings,
    Response,
    SeenItem,
)
from ..pools import Pool, exam_pool
from .facts import (
    ATTEMPT_COLUMNS,
    EXAM_COLUMNS,
    RESPONSE_COLUMNS,
    AttemptLoad,
    CertificateFacts,
    Effects,
    Exposure,
    Standing,
    StartLoad,
    attempt_facts,
    exam_facts,
    outside_ids,
    outside_params,
    response_facts,
)

_EXAM = [getattr(Exam, c) for c in EXAM_COLUMNS]
_ATTEMPT = [getattr(Attempt, c) for c in ATTEMPT_COLUMNS]
_RESPONSE = [getattr(Response, c) for c in RESPONSE_COLUMNS]


def _settings(data: dict[str, Any]) -> ProgramSettings:
    return ProgramSettings.from_json(data)


class OrmStore:
    """Loads and writes through ``session`` inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ reads

    def lock(self, participant_id: int, now: dt.datetime | None) -> tuple[dt.datetime, int]:
        """Lock the participant's row and return the time of this request, the database clock
        read once the lock is held (or the tests' frozen ``now``), and the participant's
        session version (the policy checks the session of the request against it).  The store
        reads columns, never the session's identity map, so what the session loaded before
        cannot be stale here."""
        locked = lock_with_clock(self.session, Participant, participant_id, "session_version")
        if locked is None:
            raise NotFound("participant_not_found")
        clock, version = locked
        return (clock if now is None else now), version

    def locked_attempt(self, participant_id: int, attempt_id: int, now: dt.datetime | None,
                       check_version: Callable[[int], None]) -> tuple[dt.datetime, AttemptLoad]:
        """:meth:`lock`, ``check_version(session_version)``, then :meth:`attempt`."""
        now, version = self.lock(participant_id, now)
        check_version(version)
        return now, self.attempt(participant_id, attempt_id)

    def _exam(self, *where: Any, columns: tuple = ()) -> tuple | None:
        """(exam facts, program code, settings, attempts started, *columns) of the exam that
        ``where`` selects, in one statement."""
        row = self.session.execute(
            select(*_EXAM, Materi.code, Program.code, Program.settings_json,
                   Exam.attempts_started, *columns)
            .join(Program, Program.id == Exam.program_id)
            .outerjoin(Materi, Materi.id == Exam.materi_id)
            .where(*where)).one_or_none()
        if row is None:
            return None
        n = len(_EXAM)
        materi_code, code, settings, started, *rest = row[n:]
        return (exam_facts(row[:n], materi_code), code, _settings(settings), int(started),
                *rest)

    def _seen(self, participant_id: int, program_id: int) -> np.ndarray:
        """The families of the seen items, as stored with each (the UNIQUE key) and as the
        items have them now (enemies marked since)."""
        rows = self.session.execute(
            select(SeenItem.family_id, func.coalesce(Item.family_id, Item.id))
            .join(Item, Item.id == SeenItem.item_id)
            .where(SeenItem.participant_id == participant_id,
                   SeenItem.program_id == program_id)).all()
        return np.array([f for row in rows for f in row], dtype=np.int64)

    def _exposure(self, exam_id: int, started: int) -> Exposure:
        rows = self.session.execute(select(ItemExposure.item_id, ItemExposure.count)
                                    .where(ItemExposure.exam_id == exam_id)).all()
        return Exposure(item_ids=np.array([r[0] for r in rows], dtype=np.int64),
                        counts=np.array([r[1] for r in rows], dtype=np.int64),
                        attempts_started=int(started))

    def _certified(self, participant_id: int, program_id: int) -> bool:
        return bool(self.session.scalar(select(exists().where(
            Certificate.participant_id == participant_id,
            Certificate.program_id == program_id))))

    def attempt(self, participant_id: int, attempt_id: int) -> AttemptLoad:
        """The facts of the participant's attempt; NotFound for someone else's (no IDOR)."""
        loaded = self._exam(Exam.id == Attempt.exam_id, Attempt.id == attempt_id,
                            columns=tuple(_ATTEMPT))
        if loaded is None:
            raise NotFound("attempt_not_found")
        exam, program_code, settings, started, *row = loaded
        attempt = attempt_facts(row)
        # No IDOR: someone else's attempt is indistinguishable from a missing one.
        if attempt.participant_id != participant_id:
            raise NotFound("attempt_not_found")
        responses = tuple(response_facts(r) for r in self.session.execute(
            select(*_RESPONSE).where(Response.attempt_id == attempt_id)
            .order_by(Response.position)))
        pending = next((r for r in responses if not r.answered), None)
        key = None if pending is None else self.session.scalar(
            select(Item.key).where(Item.id == pending.item_id))
        pool = exam_pool(self.session, exam)
        return AttemptLoad(
            attempt=attempt, exam=exam, program_code=program_code, settings=settings,
            responses=responses, pending_key=key,
            seen=self._seen(participant_id, attempt.program_id),
            exposure=self._exposure(exam.id, started), pool=pool,
            outside=self._outside(pool, [r.item_id for r in responses if not r.pretest]),
            certified=self._certified(participant_id, attempt.program_id))

    def _outside(self, pool: Pool | None, item_ids: list[int]) -> dict[int, tuple]:
        """(a, b, c) of the items that are not in the pool (retired during the attempt)."""
        missing = outside_ids(pool, item_ids)
        if not missing:
            return {}
        return outside_params(self.session.execute(
            select(Item.id, Item.a, Item.b, Item.c).where(Item.id.in_(missing))).all())

    def standing(self, participant_id: int, program_id: int) -> Standing:
        session = self.session
        settings = session.scalar(select(Program.settings_json).where(Program.id == program_id))
        exams = tuple(exam_facts(columns, materi_code) for *columns, materi_code in
                      session.execute(select(*_EXAM, Materi.code)
                                      .outerjoin(Materi, Materi.id == Exam.materi_id)
                                      .where(Exam.program_id == program_id,
                                             Exam.archived_at.is_(None))
                                      .order_by(Exam.id)))
        attempts = tuple(attempt_facts(r) for r in session.execute(
            select(*_ATTEMPT).where(Attempt.participant_id == participant_id,
                                    Attempt.program_id == program_id)
            .order_by(Attempt.number, Attempt.id)))
        total, done = session.execute(select(
            select(func.count(Assignment.id))
            .where(Assignment.program_id == program_id).scalar_subquery(),
            select(func.count(AssignmentCompletion.id))
            .join(Assignment, AssignmentCompletion.assignment_id == Assignment.id)
            .where(Assignment.program_id == program_id,
                   AssignmentCompletion.participant_id == participant_id).scalar_subquery())
        ).one()
        certificate = session.execute(
            select(Certificate.number, Certificate.route, Certificate.attempt_id)
            .where(Certificate.participant_id == participant_id,
                   Certificate.program_id == program_id)).one_or_none()
        return Standing(settings=_settings(settings), exams=exams, attempts=attempts,
                        assignments_total=int(total), assignments_done=int(done),
                        certificate=None if certificate is None else CertificateFacts(
                            *certificate))

    def program(self, participant_id: int, program_id: int) -> tuple[str, str] | None:
        """(code, name) of a program the participant is enrolled in, else None."""
        row = self.session.execute(
            select(Program.code, Program.name)
            .join(Enrolment, Enrolment.program_id == Program.id)
            .where(Program.id == program_id, Enrolment.participant_id == participant_id,
                   Program.archived_at.is_(None))
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    def start(self, participant_id: int, exam_id: int) -> StartLoad:
        # An archived exam, or any exam of an archived program, is hidden: it starts nothing.
        loaded = self._exam(Exam.id == exam_id, Exam.archived_at.is_(None),
                            Program.archived_at.is_(None))
        if loaded is None:
            raise NotFound("exam_not_found")
        exam, program_code, _settings_, started = loaded
        session = self.session
        nip = session.scalar(select(Participant.nip).where(Participant.id == participant_id))
        enrolled = session.scalar(select(exists().where(
            Enrolment.participant_id == participant_id,
            Enrolment.program_id == exam.program_id)))
        running = session.scalar(select(Attempt.id).where(
            Attempt.participant_id == participant_id, Attempt.program_id == exam.program_id,
            Attempt.slot == exam.slot, Attempt.state == AttemptState.STARTED))
        return StartLoad(
            participant_id=participant_id, nip=nip, exam=exam, program_code=program_code,
            enrolled=bool(enrolled), standing=self.standing(participant_id, exam.program_id),
            seen=self._seen(participant_id, exam.program_id),
            exposure=self._exposure(exam.id, started), pool=exam_pool(session, exam),
            running=running)

    def text(self, pool: Pool | None, item_id: int) -> tuple[str, list, int]:
        """Stem, options and image count of an item, cached with its pool."""
        text = None if pool is None else pool.texts.get(item_id)
        if text is None:
            stem, options, images = self.session.execute(
                select(Item.stem, Item.options, Item.image_count)
                .where(Item.id == item_id)).one()
            text = (stem, list(options), images)
            if pool is not None:
                # Any item shown with this pool, a retired one too: a change to an item moves
                # the pool version, so a text cached here is never stale.
                pool.texts[item_id] = text
        return text

    # ------------------------------------------------------------------ writes

    def apply(self, load: AttemptLoad | StartLoad, effects: Effects) -> int | None:
        """Write ``effects``; returns the id of the attempt they are about (new or loaded)."""
        session = self.session
        attempt_id = None if isinstance(load, StartLoad) else load.attempt.id
        program_id = load.exam.program_id
        participant_id = (load.participant_id if isinstance(load, StartLoad)
                          else load.attempt.participant_id)
        if effects.new_attempt is not None:
            new = effects.new_attempt
            try:
                attempt_id = session.execute(insert(Attempt).values(
                    participant_id=new.participant_id, program_id=new.program_id,
                    exam_id=new.exam_id, slot=new.slot, number=new.number,
                    state=AttemptState.STARTED, started_at=new.started_at,
                    deadline=new.deadline, seed=new.seed, imputed_items=[])
                    .returning(Attempt.id)).scalar_one()
            except IntegrityError:
                # The unique (slot, number) / one-running-attempt constraints caught a race the
                # lock should have prevented; report it as the conflict it is.
                raise Conflict("start_in_progress") from None
        if effects.answer is not None:
            a = effects.answer
            written = session.execute(
                update(Response).where(Response.id == a.response_id,
                                       Response.answered_at.is_(None))
                .values(shown_choice=a.shown_choice, choice=a.choice, correct=a.correct,
                        answered_at=a.answered_at)).rowcount
            if written != 1:  # cannot happen under the participant's lock; never store half
                raise Conflict("answered_with_other_option")
        if effects.present:
            session.execute(insert(Response), [
                {"attempt_id": attempt_id, "item_id": p.item_id, "position": p.position,
                 "shown_order": list(p.shown_order), "presented_at": p.presented_at,
                 "pretest": p.pretest, "param_version": p.param_version}
                for p in effects.present])
            # RULE: SPEC.md flow 4 — the UNIQUE seen-item set makes a repeat impossible, of an
            # item and of its family (docs/item_bank.md "Item families").
            session.execute(insert(SeenItem), [
                {"participant_id": participant_id, "program_id": program_id,
                 "item_id": p.item_id, "attempt_id": attempt_id,
                 "family_id": p.seen_family}
                for p in effects.present])
            dialect = session.get_bind().dialect.name
            # In id order, so that concurrent starts never deadlock on each other's rows.
            for item_id in sorted(p.item_id for p in effects.present):
                session.execute(_exposure_upsert(dialect, load.exam.id, item_id))
        if effects.finish is not None:
            f = effects.finish
            written = session.execute(
                update(Attempt).where(Attempt.id == attempt_id,
                                      Attempt.state == AttemptState.STARTED)
                .values(state=f.state, finished_at=f.finished_at, stop_reason=f.stop_reason,
                        theta=f.theta, se=f.se, score=f.score, passed=f.passed,
                        imputed_items=list(f.imputed), scored_by=f.scored_by)).rowcount
            if written != 1:
                raise Conflict("attempt_finished")
        if effects.certificate is not None:
            c = effects.certificate
            session.execute(insert(Certificate).values(
                number=c.number, participant_id=participant_id, program_id=program_id,
                attempt_id=attempt_id, route=c.route, score=c.score, issued_at=c.issued_at))
        if effects.audit:
            session.execute(insert(AuditLog), [
                {"actor": e.actor, "action": e.action,
                 "subject": e.subject or f"attempt:{attempt_id}", "details": dict(e.details)}
                for e in effects.audit])
        if effects.new_attempt is not None:
            # The exposure cap's denominator, kept as a counter so that an answer does not count
            # the exam's attempts.  Incremented last: the exam's row stays locked until the
            # commit, and concurrent starts of the exam wait only for that.
            session.execute(update(Exam).where(Exam.id == load.exam.id)
                            .values(attempts_started=Exam.attempts_started + 1))
        return attempt_id


def _exposure_upsert(dialect: str, exam_id: int, item_id: int) -> Any:
    """count += 1 for one item, atomically (INSERT ... ON CONFLICT DO UPDATE)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(ItemExposure).values(exam_id=exam_id, item_id=item_id, count=1)
    return stmt.on_conflict_do_update(index_elements=["exam_id", "item_id"],
                                      set_={"count": ItemExposure.count + 1})

