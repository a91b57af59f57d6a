"""The exam policy: every rule of SPEC.md, as load → decide → write.

Each public function is one transaction (:mod:`item_bank.tx`, the only place that commits):
it locks the participant, which serializes their requests, so twenty simultaneous "start"
clicks create one attempt; loads the facts of the request with a store; lets the pure
decision (:mod:`.decide`) turn them and the event into effects or a refusal; writes the
effects with the same store; and returns a view (:mod:`.views`).  The rules live once, in
:mod:`.rules` and :mod:`.decide`; the stores only load and write:

* :class:`.store_orm.OrmStore` on the SQLAlchemy session (SQLite, and PostgreSQL on request);
* :class:`.store_pg.PgStore` on PostgreSQL's driver connection, for every event there.

Times come from the database clock, read once the lock is held; ``now`` exists only so that
tests can set the time.  A refusal commits what its request read and wrote before it (an
attempt expired at its deadline stays expired) and is raised; any other error rolls back.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import db_now, is_postgresql
from ..errors import DomainError, Forbidden, InvalidInput, NotFound, SessionEnded
from ..models import Attempt, AttemptState, AuditLog, Enrolment, Participant, Program
from ..models import validate_nip as _validate_nip
from ..tx import CommitThenRefuse, raw_transaction, transaction
from . import views
from .decide import Answer, Finish, Look, Start, Sweep, decide, pretest_extra
from .facts import AttemptFacts, AttemptLoad, Effects, NewAttempt, ResponseFacts
from .rules import ExamRules, exam_rules
from .store_orm import OrmStore
from .store_pg import PgStore
from .views import (
    AnswerOutcome,
    AttemptResult,
    AttemptView,
    ExamStatus,
    ItemPresentation,
    ProgramStatus,
)

Store = OrmStore | PgStore

# session.info key: "orm" makes PostgreSQL use the ORM store too (the store tests compare them)
STORE = "smartcat_policy_store"


@contextmanager
def _store(session: Session) -> Iterator[Store]:
    """The store of ``session``'s database, in one transaction."""
    if is_postgresql(session) and session.info.get(STORE) != "orm":
        with raw_transaction(session) as connection:
            yield PgStore(session, connection)
    else:
        with transaction(session):
            yield OrmStore(session)


@contextmanager
def _refusing() -> Iterator[None]:
    """Refusals of loading and deciding: what the request wrote before them is kept."""
    try:
        yield
    except DomainError as refusal:
        raise CommitThenRefuse(refusal) from None


def _locked(store: Store, participant_id: int, now: dt.datetime | None,
            session_version: int | None) -> dt.datetime:
    """Lock the participant (serializing their requests) and return the time of the request.

    With ``session_version`` (the version the request's login session holds), SessionEnded
    when the participant's sessions were ended since: the check rides on the lock's own read,
    under the lock, so no request of an ended session changes anything and the server needs
    no round trip of its own for it.
    """
    now, version = store.lock(participant_id, now)
    _session_check(session_version)(version)
    return now


def _session_check(session_version: int | None):
    """The check of the participant's session version against the request's (none without
    one), made under the lock."""
    def check(version: int) -> None:
        if session_version is not None and version != session_version:
            raise SessionEnded("session_ended")
    return check


def _token() -> str:
    return secrets.token_hex(5).upper()


# --------------------------------------------------------------------------- after the write


def _applied(load: AttemptLoad, effects: Effects) -> tuple[AttemptFacts, list[ResponseFacts]]:
    """The attempt and its responses as the effects leave them (no second read)."""
    attempt, responses = load.attempt, list(load.responses)
    if effects.answer is not None:
        a = effects.answer
        responses = [r._replace(shown_choice=a.shown_choice, choice=a.choice,
                                correct=a.correct, answered_at=a.answered_at)
                     if r.id == a.response_id else r for r in responses]
    responses += [ResponseFacts(0, p.item_id, p.position, p.shown_order, None, None, None, None,
                                p.pretest) for p in effects.present]
    if effects.finish is not None:
        f = effects.finish
        attempt = replace(attempt, state=f.state, finished_at=f.finished_at, theta=f.theta,
                          se=f.se, score=f.score, passed=f.passed, stop_reason=f.stop_reason,
                          imputed=f.imputed)
    return attempt, responses


def _current(store: Store, load: AttemptLoad, attempt: AttemptFacts,
             responses: list[ResponseFacts], now: dt.datetime) -> ItemPresentation | None:
    """The item to answer now, or None once the attempt is over."""
    if not attempt.running:
        return None
    pending = next((r for r in responses if r.answered_at is None), None)
    if pending is None:
        return None
    return views.presentation(attempt, load.exam, load.settings, item_id=pending.item_id,
                              position=pending.position, shown_order=pending.shown_order,
                              text=store.text(load.pool, pending.item_id),
                              answered=sum(r.answered_at is not None for r in responses),
                              now=now, extra=_extra(load, attempt, responses))


def _extra(load: AttemptLoad, attempt: AttemptFacts, responses: list[ResponseFacts]) -> int:
    return pretest_extra(load.exam, load.settings, load.pool, load.seen, attempt.seed,
                         responses)


def _result(store: Store, load: AttemptLoad, answered: int, now: dt.datetime) -> AttemptResult:
    standing = store.standing(load.attempt.participant_id, load.attempt.program_id)
    attempt = next(a for a in standing.attempts if a.id == load.attempt.id)
    return views.attempt_result(attempt, load.exam, standing, answered, now)


def _attempt_call(session: Session, participant_id: int, attempt_id: int, event,
                  now: dt.datetime | None, build, session_version: int | None = None):
    """One event on the participant's attempt: lock, load, decide, write, then ``build(store,
    load, effects, attempt, responses, now)`` the reply in the same transaction."""
    with _store(session) as store:
        with _refusing():
            now, load = store.locked_attempt(participant_id, attempt_id, now,
                                             _session_check(session_version))
            effects = decide(load, event, now)
        store.apply(load, effects)
        attempt, responses = _applied(load, effects)
        reply = build(store, load, effects, attempt, responses, now)
        if effects.refusal is not None:
            raise CommitThenRefuse(effects.refusal)
        return reply


# --------------------------------------------------------------------------- enrolment


def enrol(session: Session, *, program_code: str, nip: str) -> Enrolment:
    """Enrol the registered civil servant ``nip`` in the open program ``program_code``.

    Idempotent: enrolling twice returns the existing enrolment.
    """
    with transaction(session), _refusing():
        try:
            nip = _validate_nip(nip)
        except ValueError:
            raise InvalidInput("invalid_nip") from None
        program = session.scalar(select(Program).where(Program.code == program_code,
                                                       Program.archived_at.is_(None)))
        if program is None:  # unknown or archived: an archived program is hidden
            raise NotFound("unknown_program", program=program_code)
        participant_id = session.scalar(select(Participant.id).where(Participant.nip == nip))
        # RULE: SPEC.md flow 7 — only a NIP on the register may enrol, only in an open program.
        if participant_id is None:
            raise Forbidden("not_registered", nip=nip)
        _locked(OrmStore(session), participant_id, None, None)
        existing = session.scalar(select(Enrolment).where(
            Enrolment.participant_id == participant_id, Enrolment.program_id == program.id))
        if existing is not None:
            return existing
        if not program.is_open:
            raise Forbidden("program_closed", program=program.code)
        enrolment = Enrolment(participant_id=participant_id, program_id=program.id)
        session.add(enrolment)
        session.add(AuditLog(actor=f"participant:{nip}", action="enrol",
                             subject=f"program:{program.code}", details={}))
        session.flush()
        return enrolment


# --------------------------------------------------------------------------- attempts


def start_attempt(session: Session, *, participant_id: int, exam_id: int,
                  now: dt.datetime | None = None,
                  session_version: int | None = None) -> AttemptView:
    """Start an attempt of ``exam_id``, or resume the participant's running one.

    Raises NotFound (unknown exam), Forbidden (not enrolled), Locked (a rule forbids it now)
    or BankExhausted (too few unseen operational items: refused before anything starts).
    """
    seed, token = secrets.randbits(31), _token()
    with _store(session) as store:
        with _refusing():
            now = _locked(store, participant_id, now, session_version)
            load = store.start(participant_id, exam_id)
        if load.running is not None:
            with _refusing():
                running = store.attempt(participant_id, load.running)
                effects = decide(running, Look(token), now)
            if not effects.writes:
                # RULE: SPEC.md flow 1 — a dropped connection resumes the same attempt.
                return views.attempt_view(running.attempt, running.exam, running.settings,
                                          len(running.answered), now, resumed=True,
                                          extra=_extra(running, running.attempt,
                                                       list(running.responses)))
            store.apply(running, effects)
            with _refusing():
                load = store.start(participant_id, exam_id)
        with _refusing():
            effects = decide(load, Start(seed), now)
        attempt_id = store.apply(load, effects)
        new = effects.new_attempt
        assert new is not None and attempt_id is not None
        started = _started(attempt_id, new)
        return views.attempt_view(started, load.exam, load.standing.settings, 0, now,
                                  extra=pretest_extra(load.exam, load.standing.settings,
                                                      load.pool, load.seen, started.seed, ()))


def _started(attempt_id: int, new: NewAttempt) -> AttemptFacts:
    return AttemptFacts(attempt_id, new.participant_id, new.program_id, new.exam_id, new.slot,
                        new.number, AttemptState.STARTED, new.started_at, new.deadline, None,
                        new.seed, None, None, None, None, None)


def attempt_view(session: Session, *, participant_id: int, attempt_id: int,
                 now: dt.datetime | None = None,
                 session_version: int | None = None) -> AttemptView:
    """The participant's own attempt (ended first if its time ran out)."""
    def build(_store, load, _effects, attempt, responses, now):
        return views.attempt_view(attempt, load.exam, load.settings,
                                  sum(r.answered_at is not None for r in responses), now,
                                  extra=_extra(load, attempt, responses))
    return _attempt_call(session, participant_id, attempt_id, Look(_token()), now, build,
                         session_version)


def current_item(session: Session, *, participant_id: int, attempt_id: int,
                 now: dt.datetime | None = None,
                 session_version: int | None = None) -> ItemPresentation | None:
    """The item to answer now (stem and options in shown order), or None once finished."""
    def build(store, load, _effects, attempt, responses, now):
        return _current(store, load, attempt, responses, now)
    return _attempt_call(session, participant_id, attempt_id, Look(_token()), now, build,
                         session_version)


def record_answer(session: Session, *, participant_id: int, attempt_id: int, item_id: int | str,
                  choice: int, now: dt.datetime | None = None,
                  session_version: int | None = None) -> AnswerOutcome:
    """Store the answer ``choice`` (0-based shown position) to the current item.

    Idempotent: the same (item, choice) again returns ``stored=False``.  A different choice for
    an answered item, an item that is not the current one or a finished attempt raise
    Conflict; an answer after the deadline's grace raises Conflict and ends the attempt.  An
    answer within the grace is stored and ends the attempt: its reply carries the result.
    """
    try:
        item_id = int(item_id)
    except (TypeError, ValueError):
        raise InvalidInput("item_id_not_integer") from None
    if isinstance(choice, bool) or not isinstance(choice, int):
        raise InvalidInput("choice_not_integer")

    def build(store, load, effects, attempt, responses, now):
        answered = sum(r.answered_at is not None for r in responses)
        final = not attempt.running
        return AnswerOutcome(
            attempt_id=attempt.id, item_id=item_id, stored=effects.answer is not None,
            finished=final, next_item=_current(store, load, attempt, responses, now),
            result=_result(store, load, answered, now) if final else None)
    return _attempt_call(session, participant_id, attempt_id, Answer(item_id, choice, _token()),
                         now, build, session_version)


def finish_attempt(session: Session, *, participant_id: int, attempt_id: int,
                   confirmed: bool = False, now: dt.datetime | None = None,
                   session_version: int | None = None) -> AttemptResult:
    """Submit the attempt (expired instead once past its deadline); idempotent once final.

    With fewer answers than the exam needs, Conflict ``finish_needs_confirmation`` says how
    many are missing and what happens to them, unless ``confirmed``.
    """
    def build(store, load, _effects, _attempt, responses, now):
        return _result(store, load, sum(r.answered_at is not None for r in responses), now)
    return _attempt_call(session, participant_id, attempt_id, Finish(confirmed, _token()), now,
                         build, session_version)


def attempt_result(session: Session, *, participant_id: int, attempt_id: int,
                   now: dt.datetime | None = None,
                   session_version: int | None = None) -> AttemptResult:
    """The result of the participant's attempt (score None while it is still running)."""
    def build(store, load, _effects, _attempt, responses, now):
        return _result(store, load, sum(r.answered_at is not None for r in responses), now)
    return _attempt_call(session, participant_id, attempt_id, Look(_token()), now, build,
                         session_version)


def expire_due_attempts(session: Session, *, now: dt.datetime | None = None) -> int:
    """End (and grade) every running attempt past its deadline and grace; returns how many.

    Each attempt is its own transaction under its participant's lock, so the sweeper never
    blocks exam traffic for long and never races an answer.
    """
    with transaction(session):
        now = db_now(session) if now is None else now
        candidates = session.execute(
            select(Attempt.id, Attempt.participant_id)
            .where(Attempt.state == AttemptState.STARTED, Attempt.deadline < now)).all()
    def ended(_store, _load, effects, _attempt, _responses, _now) -> bool:
        return effects.finish is not None

    return sum(_attempt_call(session, participant_id, attempt_id, Sweep(_token()), now, ended)
               for attempt_id, participant_id in candidates)


# --------------------------------------------------------------------------- status


def program_status(session: Session, *, participant_id: int, program_id: int,
                   now: dt.datetime | None = None,
                   session_version: int | None = None) -> ProgramStatus:
    """Where the participant stands in the program: every exam, its gate and the next step."""
    with _store(session) as store, _refusing():
        now = _locked(store, participant_id, now, session_version)
        program = store.program(participant_id, program_id)
        if program is None:  # unknown, or not enrolled: the same to the participant
            raise NotFound("program_not_found")
        code, name = program
        return views.program_status(store.standing(participant_id, program_id),
                                    program_id=program_id, program_code=code,
                                    program_name=name, now=now)


__all__ = [
    "STORE", "AnswerOutcome", "AttemptResult", "AttemptView", "ExamRules", "ExamStatus",
    "ItemPresentation", "ProgramStatus", "attempt_result", "attempt_view", "current_item",
    "enrol", "exam_rules", "expire_due_attempts", "finish_attempt", "program_status",
    "record_answer", "start_attempt",
]
