"""The exam policy: every rule of SPEC.md as plain functions over a SQLAlchemy session.

Each public function is one transaction and the only place that commits.  It first locks the
participant's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the whole transaction
already holds the write lock from ``BEGIN IMMEDIATE``, see :mod:`item_bank.db`), so two
requests of one participant run one after the other and see each other's effects: twenty
simultaneous "start" clicks create one attempt.  Database constraints back every invariant
(one running attempt per slot, unique attempt numbers, a UNIQUE seen-item set, one
certificate per participant and program).

Times come from the database clock (:func:`item_bank.db.db_now`); ``now`` exists only so tests
can freeze time.  Rule code is marked ``# RULE:`` with a pointer to SPEC.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
import psycopg
from psycopg.types.json import Json
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from cat_engine.estimation import Estimate, estimate
from cat_engine.scoring import domain_score, theta_for_score
from cat_engine.stopping import StoppingRule

from .db import db_now, lock_with_clock
from .errors import BankExhausted, Conflict, Forbidden, InvalidInput, Locked, NotFound
from .messages import Notice
from .models import (
    Assembly,
    Assignment,
    AssignmentCompletion,
    Attempt,
    AttemptState,
    AuditLog,
    Certificate,
    CertificateRoute,
    Enrolment,
    Exam,
    ExamKind,
    Item,
    ItemExposure,
    Participant,
    Program,
    ProgramSettings,
    Response,
    SeenItem,
    exam_slot,
    validate_nip,
)
from .pools import Pool, exam_pool
from .selection import loft_form, next_cat_item

P = ParamSpec("P")
R = TypeVar("R")

KOMPETEN = "kompeten"
BELUM_KOMPETEN = "belum kompeten"


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class ExamRules:
    """The effective numbers of one exam: its own fields, else the program settings."""

    cut_score: float
    max_attempts: int
    duration_s: int
    waiting_period_s: int
    min_items: int
    max_items: int
    se_target: float | None


@dataclass(frozen=True)
class AttemptView:
    attempt_id: int
    exam_id: int
    exam_code: str
    kind: str
    assembly: str
    number: int
    state: str
    started_at: dt.datetime
    deadline: dt.datetime
    seconds_left: float
    answered: int
    max_items: int
    resumed: bool = False


@dataclass(frozen=True)
class ItemPresentation:
    """What a participant's browser may see: no key, no parameters, options in shown order."""

    attempt_id: int
    item_id: int
    position: int  # 1-based
    stem: str
    options: list[str]
    deadline: dt.datetime
    seconds_left: float
    answered: int
    max_items: int


@dataclass(frozen=True)
class AttemptResult:
    attempt_id: int
    exam_id: int
    kind: str
    number: int
    state: str
    answered: int
    score: float | None
    passed: bool | None
    cut_score: float
    theta: float | None
    se: float | None
    stop_reason: str | None
    category: str | None  # ujikom: "kompeten" / "belum kompeten"
    certificate_number: str | None
    attempts_left: int
    next_step: Notice


@dataclass(frozen=True)
class AnswerOutcome:
    attempt_id: int
    item_id: int
    stored: bool  # False when the same answer was already stored (idempotent repeat)
    finished: bool
    next_item: ItemPresentation | None
    result: AttemptResult | None


@dataclass(frozen=True)
class ExamStatus:
    exam_id: int
    code: str
    title: str
    kind: str
    materi_code: str | None
    attempts_used: int
    max_attempts: int
    passed: bool
    best_score: float | None
    running_attempt_id: int | None
    available: bool
    locked_reason: Notice | None
    available_from: dt.datetime | None


@dataclass(frozen=True)
class ProgramStatus:
    program_id: int
    program_code: str
    program_name: str
    exams: list[ExamStatus] = field(default_factory=list)
    assignments_done: int = 0
    assignments_total: int = 0
    category: str | None = None
    certificate_number: str | None = None
    next_step: Notice = field(default_factory=lambda: Notice("next_nothing"))


# --------------------------------------------------------------------------- plumbing


def _transaction(fn: Callable[P, R]) -> Callable[P, R]:
    """Commit on success, roll back on any error: the policy is the only place that commits."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session: Session = args[0] if args else kwargs["session"]  # type: ignore[assignment]
        try:
            result = fn(*args, **kwargs)
            session.commit()
            return result
        except _CommitThenRaise as pending:
            session.commit()
            raise pending.error from None
        except BaseException:
            session.rollback()
            raise

    return wrapper


class _CommitThenRaise(Exception):
    """Keep the state change (an attempt expired at its deadline) and still refuse the call."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _now(session: Session, now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return db_now(session)
    return _frozen(now)


def _frozen(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(dt.UTC)


def _lock_participant(session: Session, participant_id: int,
                      now: dt.datetime | None = None) -> dt.datetime:
    """Lock the participant's row, which serializes their requests, and return the time of
    this one: the database clock read once the lock is held (or the tests' frozen ``now``)."""
    # Whatever the session loaded before may be stale: read everything afresh under the lock.
    session.expire_all()
    clock = lock_with_clock(session, Participant, participant_id)
    if clock is None:
        raise NotFound("participant_not_found")
    return clock if now is None else _frozen(now)


def _audit(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, subject=subject, details=details))


def exam_rules(exam: Exam | _ExamRow, settings: ProgramSettings) -> ExamRules:
    """The effective rules of ``exam`` (exam fields override the program settings)."""
    if exam.kind == ExamKind.PRE_ASSESSMENT:
        # RULE: SPEC.md flow 1 — the pre-assessment has exactly one attempt, never a remedial.
        cut, attempts, waiting = settings.pre_assessment_certificate_score, 1, 0
    elif exam.kind == ExamKind.MATERI:
        # RULE: SPEC.md flow 2 — pass >= 70, at most 5 attempts per materi.
        cut, attempts, waiting = settings.materi_pass_score, settings.materi_max_attempts, 0
    else:
        # RULE: SPEC.md flow 3 — ujikom at most 3 attempts with a waiting period between.
        cut, attempts = settings.ujikom_pass_score, settings.ujikom_max_attempts
        waiting = settings.ujikom_waiting_period_s
    if exam.kind != ExamKind.PRE_ASSESSMENT and exam.max_attempts is not None:
        attempts = exam.max_attempts
    return ExamRules(
        cut_score=exam.cut_score if exam.cut_score is not None else cut,
        max_attempts=attempts,
        duration_s=exam.duration_s or settings.exam_duration_s,
        waiting_period_s=exam.waiting_period_s if exam.waiting_period_s is not None else waiting,
        min_items=exam.min_items or settings.min_items,
        max_items=exam.max_items or settings.max_items,
        se_target=exam.se_target if exam.se_target is not None else settings.se_target,
    )


def _own_attempt(session: Session, participant_id: int, attempt_id: int) -> Attempt:
    # One round trip for the attempt with its exam and program, one for its responses.  Not
    # their items: answering reads the current item only, grading the cached pool; the rare
    # walks over every item (items left the pool) load them at once with _items().
    attempt = session.scalar(
        select(Attempt).where(Attempt.id == attempt_id)
        .options(joinedload(Attempt.exam).joinedload(Exam.program),
                 selectinload(Attempt.responses))
        .execution_options(populate_existing=True))
    # No IDOR: someone else's attempt is indistinguishable from a missing one.
    if attempt is None or attempt.participant_id != participant_id:
        raise NotFound("attempt_not_found")
    return attempt


def _is_due(deadline: dt.datetime, settings: ProgramSettings, now: dt.datetime) -> bool:
    # RULE: SPEC.md flow 5 — time runs out at the deadline; a grace of at most 5 s absorbs
    # network latency of an answer clicked just before it.
    return now > deadline + dt.timedelta(seconds=settings.answer_grace_s)


def _by_slot(attempts: Iterable[Any]) -> dict[str, list[Any]]:
    """The attempts (in number order) grouped by slot."""
    slots: dict[str, list[Any]] = {}
    for attempt in attempts:
        slots.setdefault(attempt.slot, []).append(attempt)
    return slots


def _slot_attempts(session: Session, participant_id: int, program_id: int) -> dict[str, list]:
    return _by_slot(session.scalars(
        select(Attempt).where(Attempt.participant_id == participant_id,
                              Attempt.program_id == program_id)
        .order_by(Attempt.number)))


def _seen_item_ids(session: Session, participant_id: int, program_id: int) -> set[int]:
    return set(session.scalars(select(SeenItem.item_id).where(
        SeenItem.participant_id == participant_id, SeenItem.program_id == program_id)))


def _answered(attempt: Attempt) -> list[Response]:
    return [r for r in attempt.responses if r.answered_at is not None]


# --------------------------------------------------------------------------- enrolment


@_transaction
def enrol(session: Session, *, program_code: str, nip: str) -> Enrolment:
    """Enrol the registered civil servant ``nip`` in the open program ``program_code``.

    Idempotent: enrolling twice returns the existing enrolment.
    """
    try:
        nip = validate_nip(nip)
    except ValueError:
        raise InvalidInput("invalid_nip") from None
    program = session.scalar(select(Program).where(Program.code == program_code))
    if program is None:
        raise NotFound("unknown_program", program=program_code)
    participant_id = session.scalar(select(Participant.id).where(Participant.nip == nip))
    # RULE: SPEC.md flow 7 — only a NIP on the register may enrol, only in an open program.
    if participant_id is None:
        raise Forbidden("not_registered", nip=nip)
    _lock_participant(session, participant_id)
    existing = session.scalar(select(Enrolment).where(
        Enrolment.participant_id == participant_id, Enrolment.program_id == program.id))
    if existing is not None:
        return existing
    if not program.is_open:
        raise Forbidden("program_closed", program=program.code)
    enrolment = Enrolment(participant_id=participant_id, program_id=program.id)
    session.add(enrolment)
    _audit(session, f"participant:{nip}", "enrol", f"program:{program.code}")
    session.flush()
    return enrolment


def _require_enrolment(session: Session, participant_id: int, program_id: int) -> None:
    enrolled = session.scalar(select(Enrolment.id).where(
        Enrolment.participant_id == participant_id, Enrolment.program_id == program_id))
    if enrolled is None:
        raise Forbidden("not_enrolled")


# --------------------------------------------------------------------------- gates


@dataclass
class _Standing:
    """Everything the gates need about one participant in one program: ORM objects on the
    general path, the plain path's rows (same attribute names) on PostgreSQL's plain one."""

    settings: ProgramSettings
    exams: list[Exam] | list[_ExamRow]
    slots: dict[str, list[Attempt]] | dict[str, list[_AttemptRow]]
    assignments_total: int
    assignments_done: int
    certificate: Certificate | _CertificateRow | None

    def passed(self, slot: str) -> bool:
        return any(a.passed for a in self.slots.get(slot, []))

    def pre_assessment_exists(self) -> bool:
        return any(e.kind == ExamKind.PRE_ASSESSMENT for e in self.exams)

    def materi_slots(self) -> list[str]:
        return sorted({e.slot for e in self.exams if e.kind == ExamKind.MATERI})


def _standing(session: Session, participant_id: int, program: Program) -> _Standing:
    exams = list(session.scalars(select(Exam).where(Exam.program_id == program.id)
                                 .order_by(Exam.id)))
    total, done = session.execute(select(
        select(func.count(Assignment.id))
        .where(Assignment.program_id == program.id).scalar_subquery(),
        select(func.count(AssignmentCompletion.id))
        .join(Assignment, AssignmentCompletion.assignment_id == Assignment.id)
        .where(Assignment.program_id == program.id,
               AssignmentCompletion.participant_id == participant_id).scalar_subquery())).one()
    certificate = session.scalar(select(Certificate).where(
        Certificate.participant_id == participant_id, Certificate.program_id == program.id))
    return _Standing(settings=program.settings, exams=exams,
                     slots=_slot_attempts(session, participant_id, program.id),
                     assignments_total=total, assignments_done=done, certificate=certificate)


def _gate(standing: _Standing, exam: Exam, rules: ExamRules,
          now: dt.datetime) -> tuple[Notice | None, dt.datetime | None]:
    """Why ``exam`` cannot be started now (None when it can) and when it opens if waiting."""
    attempts = standing.slots.get(exam.slot, [])
    finished = [a for a in attempts if a.state != AttemptState.STARTED]
    if standing.certificate is not None:
        return Notice("certified"), None
    if exam.window_opens_at is not None and now < exam.window_opens_at:
        return (Notice("window_not_open", {"opens_at": exam.window_opens_at,
                                           "timezone": standing.settings.timezone}),
                exam.window_opens_at)
    if exam.window_closes_at is not None and now >= exam.window_closes_at:
        return Notice("window_closed"), None
    if exam.kind == ExamKind.PRE_ASSESSMENT:
        # RULE: SPEC.md flow 1 — exactly one pre-assessment attempt, ever; and it comes
        # before the training, so not after any materi exam was taken.
        if attempts:
            return Notice("pre_assessment_once"), None
        if any(standing.slots.get(s) for s in standing.materi_slots()):
            return Notice("pre_assessment_before_training"), None
        return None, None
    # RULE: SPEC.md flow 1-2 — the training starts after the pre-assessment (when there is one).
    if standing.pre_assessment_exists() and not any(
            a.state != AttemptState.STARTED
            for a in standing.slots.get(ExamKind.PRE_ASSESSMENT.value, [])):
        return Notice("pre_assessment_first"), None
    if standing.passed(exam.slot):
        return Notice("already_passed"), None
    if len(attempts) >= rules.max_attempts:
        # RULE: SPEC.md flow 2-3 — at most 5 materi / 3 ujikom attempts.
        code = ("ujikom_attempts_exhausted" if exam.kind == ExamKind.UJIKOM
                else "attempts_exhausted")
        return Notice(code, {"max_attempts": rules.max_attempts}), None
    if exam.kind == ExamKind.UJIKOM:
        # RULE: SPEC.md flow 3 — ujikom unlocked when every materi exam is passed and every
        # assignment is marked done.
        missing = [s for s in standing.materi_slots() if not standing.passed(s)]
        if missing:
            return Notice("materi_not_passed", {"count": len(missing)}), None
        if standing.assignments_done < standing.assignments_total:
            left = standing.assignments_total - standing.assignments_done
            return Notice("assignments_not_done", {"count": left}), None
    if finished and rules.waiting_period_s > 0:
        # RULE: SPEC.md flow 3 — a waiting period for remedial study between attempts.
        until = max(a.finished_at for a in finished) + dt.timedelta(seconds=rules.waiting_period_s)
        if now < until:
            # Written in the program's local time (WIB by default), as participants read it.
            return (Notice("waiting_period", {"until": until,
                                              "timezone": standing.settings.timezone}), until)
    return None, None


# --------------------------------------------------------------------------- start


@_transaction
def start_attempt(session: Session, *, participant_id: int, exam_id: int,
                  now: dt.datetime | None = None) -> AttemptView:
    """Start an attempt of ``exam_id``, or resume the participant's running one.

    Raises NotFound (unknown exam), Forbidden (not enrolled), Locked (a rule forbids it now)
    or BankExhausted (too few unseen operational items: refused before anything starts).
    """
    now = _lock_participant(session, participant_id, now)
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise NotFound("exam_not_found")
    _require_enrolment(session, participant_id, exam.program_id)
    program = session.get(Program, exam.program_id)
    settings = program.settings
    rules = exam_rules(exam, settings)

    running = session.scalar(select(Attempt).where(
        Attempt.participant_id == participant_id, Attempt.program_id == exam.program_id,
        Attempt.slot == exam.slot, Attempt.state == AttemptState.STARTED))
    if running is not None:
        if not _is_due(running.deadline, settings, now):
            # RULE: SPEC.md flow 1 — a dropped connection resumes the same attempt.
            return _view(running, now, resumed=True)
        _finish(session, running, AttemptState.EXPIRED, now)

    standing = _standing(session, participant_id, program)
    reason, _until = _gate(standing, exam, rules, now)
    if reason is not None:
        raise Locked(reason.code, **reason.params)

    pool = exam_pool(session, exam)
    seen = _seen_item_ids(session, participant_id, exam.program_id)
    unseen = 0 if pool is None else len(pool) - len(pool.positions(seen))
    if unseen < rules.max_items:
        # RULE: SPEC.md flow 4 / issue "bank capacity" — never fail mid-way: refuse at start.
        raise BankExhausted("bank_exhausted", exam=exam.code, needed=rules.max_items,
                            available=unseen)

    number = len(standing.slots.get(exam.slot, [])) + 1
    deadline = now + dt.timedelta(seconds=rules.duration_s)
    if exam.window_closes_at is not None:
        deadline = min(deadline, exam.window_closes_at)
    attempt = Attempt(participant_id=participant_id, program_id=exam.program_id, exam_id=exam.id,
                      slot=exam.slot, number=number, state=AttemptState.STARTED, started_at=now,
                      deadline=deadline, seed=secrets.randbits(31))
    session.add(attempt)
    try:
        session.flush()
    except IntegrityError:
        # The unique (slot, number) / one-running-attempt constraints caught a race the lock
        # should have prevented; report it as the conflict it is.
        raise Conflict("start_in_progress") from None
    assert pool is not None
    if exam.assembly == Assembly.LOFT:
        _assemble_loft_form(session, attempt, exam, pool, seen, rules, settings, now)
    else:
        _present_next(session, attempt, exam, pool, seen, rules, settings, Estimate(0.0, 1.0),
                      now)
    nip = session.get(Participant, participant_id).nip
    _audit(session, f"participant:{nip}", "attempt_started", f"attempt:{attempt.id}",
           exam=exam.code, number=number)
    # The exposure cap's denominator, kept as a counter so that an answer does not count the
    # exam's attempts (a cost growing with every participant).  Incremented last: the exam's
    # row stays locked until the commit, and concurrent starts of the exam wait only for that.
    session.execute(update(Exam).where(Exam.id == exam.id)
                    .values(attempts_started=Exam.attempts_started + 1))
    session.flush()
    return _view(attempt, now)


_EXPOSURE = ItemExposure.__table__
# PostgreSQL: the exposure counts as packed (id, count) pairs (see _int4s); a bank's worth of
# rows (hundreds) would otherwise cost more to turn into Python rows than everything else an
# answer does.
_EXPOSURE_PACKED = text("SELECT string_agg(int4send(item_id) || int4send(count), ''::bytea) "
                        "FROM item_exposure WHERE exam_id = :exam_id")
_EXPOSURE_ROWS = select(_EXPOSURE.c.item_id, _EXPOSURE.c.count).where(
    _EXPOSURE.c.exam_id == bindparam("exam_id"))


def _exposure_state(session: Session, exam: Exam, pool: Pool, *,
                    starting: bool) -> tuple[np.ndarray, int]:
    """(counts aligned with the pool, attempts started in this exam window including the
    current one, which ``exam.attempts_started`` counts only once its start committed)."""
    conn = session.connection()
    params = {"exam_id": exam.id}
    if conn.dialect.name == "postgresql":
        pairs = _int4s(conn.execute(_EXPOSURE_PACKED, params).scalar()).reshape(-1, 2)
        ids, values = pairs[:, 0], pairs[:, 1]
    else:
        rows = conn.execute(_EXPOSURE_ROWS, params).all()
        ids, values = [r[0] for r in rows], [r[1] for r in rows]
    return pool.counts(ids, values), exam.attempts_started + starting


def _exposure_upsert(dialect: str, exam_id: int, item_id: int) -> Any:
    """count += 1 for one item, atomically (INSERT ... ON CONFLICT DO UPDATE)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(ItemExposure).values(exam_id=exam_id, item_id=item_id, count=1)
    return stmt.on_conflict_do_update(index_elements=["exam_id", "item_id"],
                                      set_={"count": ItemExposure.count + 1})


def _bump_exposure(session: Session, exam_id: int, item_ids: list[int]) -> None:
    """count += 1 per item, in id order so concurrent starts never deadlock on each other's
    rows."""
    dialect = session.get_bind().dialect.name
    for item_id in sorted(item_ids):
        session.execute(_exposure_upsert(dialect, exam_id, item_id))


def _shuffle(rng: np.random.Generator, n_options: int) -> list[int]:
    # RULE: SPEC.md "Anti-cheating" — option order shuffled per participant and stored.
    return [int(i) for i in rng.permutation(n_options)]


def _add_responses(session: Session, attempt: Attempt, items: list[Item], first_position: int,
                   rng: np.random.Generator, now: dt.datetime) -> None:
    for offset, item in enumerate(items):
        # Appending keeps the loaded collection current without reloading it from the database.
        attempt.responses.append(Response(item=item, position=first_position + offset,
                                          shown_order=_shuffle(rng, len(item.options)),
                                          presented_at=now))
        # RULE: SPEC.md flow 4 — the UNIQUE seen-item set makes a repeat impossible.
        session.add(SeenItem(participant_id=attempt.participant_id,
                             program_id=attempt.program_id, item_id=item.id,
                             attempt_id=attempt.id))
    _bump_exposure(session, attempt.exam_id, [item.id for item in items])
    session.flush()


def _assemble_loft_form(session: Session, attempt: Attempt, exam: Exam, pool: Pool,
                        seen: set[int], rules: ExamRules, settings: ProgramSettings,
                        now: dt.datetime) -> None:
    """LOFT: assemble one fixed form at start and store it (every item counts as seen)."""
    rng = np.random.default_rng(attempt.seed)
    base = np.zeros(len(pool), dtype=bool)
    base[pool.positions(seen)] = True
    counts, attempts = _exposure_state(session, exam, pool, starting=True)
    try:
        index = loft_form(pool.bank, rules.max_items, base=base, counts=counts,
                          attempts=attempts, max_exposure=settings.max_exposure,
                          slack=settings.exposure_slack,
                          content_shares=pool.content_shares, rng=rng)
    except ValueError as exc:
        raise BankExhausted("bank_exhausted", exam=exam.code, needed=rules.max_items,
                            available=int((~base).sum())) from exc
    item_ids = [int(pool.item_ids[i]) for i in index]
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    _add_responses(session, attempt, [items[i] for i in item_ids], 1, rng, now)


def _present_next(session: Session, attempt: Attempt, exam: Exam, pool: Pool, seen: set[int],
                  rules: ExamRules, settings: ProgramSettings, current: Estimate,
                  now: dt.datetime) -> bool:
    """CAT: choose the next item by maximum information at the current theta, with
    randomesque exposure control, the exposure ceiling and content balance.

    Returns False when no eligible item is left (the attempt then ends).
    """
    base = np.zeros(len(pool), dtype=bool)
    base[pool.positions(seen)] = True
    if base.all():
        return False
    position = len(attempt.responses) + 1
    counts, attempts = _exposure_state(session, exam, pool, starting=position == 1)
    content_counts = pool.content_counts(r.item_id for r in attempt.responses)
    rng = np.random.default_rng([attempt.seed, position])
    index = next_cat_item(pool.bank, current.theta, base=base, counts=counts, attempts=attempts,
                          max_exposure=settings.max_exposure, k=settings.randomesque_k,
                          slack=settings.exposure_slack, content_shares=pool.content_shares,
                          content_counts=content_counts,
                          rng=rng)
    item = session.get(Item, int(pool.item_ids[index]))
    _add_responses(session, attempt, [item], position, rng, now)
    return True


# --------------------------------------------------------------------------- views


def _seconds_left(attempt: Attempt, now: dt.datetime) -> float:
    return max(0.0, (attempt.deadline - now).total_seconds())


def _view(attempt: Attempt, now: dt.datetime, *, resumed: bool = False) -> AttemptView:
    exam = attempt.exam
    rules = exam_rules(exam, exam.program.settings)
    return AttemptView(
        attempt_id=attempt.id, exam_id=exam.id, exam_code=exam.code, kind=exam.kind.value,
        assembly=exam.assembly.value, number=attempt.number, state=attempt.state.value,
        started_at=attempt.started_at, deadline=attempt.deadline,
        seconds_left=_seconds_left(attempt, now) if attempt.state == AttemptState.STARTED else 0.0,
        answered=len(_answered(attempt)), max_items=rules.max_items, resumed=resumed)


def _current_response(attempt: Attempt) -> Response | None:
    pending = [r for r in attempt.responses if r.answered_at is None]
    return min(pending, key=lambda r: r.position) if pending else None


def _presentation(attempt: Attempt, response: Response, now: dt.datetime) -> ItemPresentation:
    item = response.item
    rules = exam_rules(attempt.exam, attempt.exam.program.settings)
    return ItemPresentation(
        attempt_id=attempt.id, item_id=item.id, position=response.position, stem=item.stem,
        options=[item.options[i] for i in response.shown_order], deadline=attempt.deadline,
        seconds_left=_seconds_left(attempt, now), answered=len(_answered(attempt)),
        max_items=rules.max_items)


@_transaction
def attempt_view(session: Session, *, participant_id: int, attempt_id: int,
                 now: dt.datetime | None = None) -> AttemptView:
    """The participant's own attempt (expired first if its time ran out)."""
    now = _lock_participant(session, participant_id, now)
    attempt = _own_attempt(session, participant_id, attempt_id)
    _expire_if_due(session, attempt, now)
    return _view(attempt, now)


@_transaction
def current_item(session: Session, *, participant_id: int, attempt_id: int,
                 now: dt.datetime | None = None) -> ItemPresentation | None:
    """The item to answer now (stem and options in shown order), or None once finished."""
    now = _lock_participant(session, participant_id, now)
    attempt = _own_attempt(session, participant_id, attempt_id)
    if _expire_if_due(session, attempt, now) or attempt.state != AttemptState.STARTED:
        return None
    response = _current_response(attempt)
    return None if response is None else _presentation(attempt, response, now)


def _expire_if_due(session: Session, attempt: Attempt, now: dt.datetime) -> bool:
    if attempt.state == AttemptState.STARTED and _is_due(attempt.deadline,
                                                         attempt.exam.program.settings, now):
        _finish(session, attempt, AttemptState.EXPIRED, now)
        return True
    return False


# --------------------------------------------------------------------------- answers


# The plain answer on PostgreSQL, as SQL sent straight through the driver: one statement
# locks the participant and reads the clock, one reads the attempt, its responses (the key of
# the pending one only: the parameters of the items come from the cached pool), its exam's
# rules, the pool version, the participant's seen items and the exposure counts, and one
# writes the answer, the next response, the seen item and the exposure count together (the
# next item's text comes from the worker's cache of the pool, read once per pool version).
# When the answer ends the test, one statement writes the answer, the grade and the audit
# entry instead, and one reads the participant's standing in the program for the result
# (_PLAIN_RESULT, which also serves a result request on its own).
# Same rules, locks and constraints as the general path.
# The clock is read above the lock (see item_bank.db.lock_with_clock): after any wait for it.
_PLAIN_LOCK = """SELECT clock_timestamp() FROM (
    SELECT 1 FROM participant WHERE id = %(participant_id)s FOR UPDATE) AS locked"""


def _exam_json(alias: str) -> str:
    """The columns of exam ``alias`` that the rules read, as the JSON array of _ExamRow."""
    columns = ("id", "program_id", "kind", "materi_id", "code", "cut_score", "max_attempts",
               "duration_s", "waiting_period_s", "min_items", "max_items", "se_target",
               "window_opens_at", "window_closes_at")
    return f"json_build_array({', '.join(f'{alias}.{c}' for c in columns)})"


_PLAIN_STATE = f"""
SELECT a.participant_id, a.program_id, a.state, a.deadline, a.seed, e.assembly,
       {_exam_json('e')}, p.settings::text,
       (SELECT v.version FROM pool_version v WHERE v.id = 1),
       (SELECT string_agg(int4send(s.item_id), ''::bytea) FROM seen_item s
         WHERE s.participant_id = a.participant_id AND s.program_id = a.program_id),
       e.attempts_started,
       ex.pairs,
       (SELECT json_agg(json_build_array(
                  r.id, r.item_id, r.shown_order, r.answered_at IS NOT NULL, r.correct,
                  CASE WHEN r.answered_at IS NULL
                       THEN (SELECT i.answer_key FROM item i WHERE i.id = r.item_id) END)
                ORDER BY r.position)
          FROM response r WHERE r.attempt_id = a.id)
FROM attempt a
JOIN exam e ON e.id = a.exam_id
JOIN program p ON p.id = e.program_id
CROSS JOIN LATERAL (
    SELECT string_agg(int4send(x.item_id) || int4send(x.count), ''::bytea) AS pairs
    FROM item_exposure x WHERE x.exam_id = e.id) ex
WHERE a.id = %(attempt_id)s"""
_PLAIN_ITEM = "SELECT stem, options FROM item WHERE id = %(item_id)s"
_PLAIN_ANSWERED = """
WITH answered AS (
    UPDATE response SET shown_choice = %(shown_choice)s, choice = %(choice)s,
                        correct = %(correct)s, answered_at = %(now)s
    WHERE id = %(response_id)s AND answered_at IS NULL RETURNING id)"""
_PLAIN_WRITE = _PLAIN_ANSWERED + """,
presented AS (
    INSERT INTO response (attempt_id, item_id, position, shown_order, presented_at)
    VALUES (%(attempt_id)s, %(item_id)s, %(position)s, %(shown_order)s, %(now)s) RETURNING id),
seen AS (
    INSERT INTO seen_item (participant_id, program_id, item_id, attempt_id)
    VALUES (%(participant_id)s, %(program_id)s, %(item_id)s, %(attempt_id)s)
    RETURNING id)
INSERT INTO item_exposure (exam_id, item_id, count) VALUES (%(exam_id)s, %(item_id)s, 1)
ON CONFLICT (exam_id, item_id) DO UPDATE SET count = item_exposure.count + 1
RETURNING (SELECT count(*) FROM answered)"""
_PLAIN_FINISH = _PLAIN_ANSWERED + f""",
finished AS (
    UPDATE attempt SET state = '{AttemptState.SUBMITTED.value}', finished_at = %(now)s,
                       stop_reason = %(reason)s, theta = %(theta)s, se = %(se)s,
                       score = %(score)s, passed = %(passed)s
    WHERE id = %(attempt_id)s AND state = '{AttemptState.STARTED.value}' RETURNING id),
audited AS (
    INSERT INTO audit_log (actor, action, subject, details)
    VALUES (%(actor)s, 'attempt_finished', %(subject)s, %(details)s) RETURNING id)
SELECT (SELECT count(*) FROM answered), (SELECT count(*) FROM finished)"""
# The attempt and everything _standing() reads of its participant in its program.
_PLAIN_RESULT = f"""
SELECT a.participant_id, a.exam_id, a.state, a.deadline, p.settings::text,
       (SELECT count(*) FROM response r WHERE r.attempt_id = a.id AND r.answered_at IS NOT NULL),
       (SELECT json_agg({_exam_json('x')} ORDER BY x.id) FROM exam x
         WHERE x.program_id = a.program_id),
       (SELECT json_agg(json_build_array(t.id, t.slot, t.number, t.state, t.passed,
                                         t.finished_at, t.theta, t.se, t.score, t.stop_reason)
                        ORDER BY t.number)
          FROM attempt t WHERE t.participant_id = a.participant_id
                           AND t.program_id = a.program_id),
       (SELECT count(*) FROM assignment s WHERE s.program_id = a.program_id),
       (SELECT count(*) FROM assignment_completion c
          JOIN assignment s ON s.id = c.assignment_id
         WHERE s.program_id = a.program_id AND c.participant_id = a.participant_id),
       (SELECT json_build_array(c.number, c.route, c.attempt_id) FROM certificate c
         WHERE c.participant_id = a.participant_id AND c.program_id = a.program_id)
FROM attempt a
JOIN program p ON p.id = a.program_id
WHERE a.id = %(attempt_id)s"""


def _timestamp(text: str | None) -> dt.datetime | None:
    """A timestamp of a JSON row (ISO 8601 with the offset), as the ORM gives it: in UTC."""
    return None if text is None else dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def _float(value: float | None) -> float | None:
    # JSON writes 85.0 as 85: the ORM's columns are floats.
    return None if value is None else float(value)


@dataclass(frozen=True)
class _ExamRow:
    """What the rules read of an exam (exam_rules, the gates, exam_pool): the plain path's
    stand-in for an Exam, from the JSON array of _exam_json()."""

    id: int
    program_id: int
    kind: ExamKind
    materi_id: int | None
    code: str
    cut_score: float | None
    max_attempts: int | None
    duration_s: int | None
    waiting_period_s: int | None
    min_items: int | None
    max_items: int | None
    se_target: float | None
    window_opens_at: dt.datetime | None
    window_closes_at: dt.datetime | None

    @classmethod
    def from_json(cls, row: list[Any]) -> _ExamRow:
        (id_, program_id, kind, materi_id, code, cut_score, max_attempts, duration_s,
         waiting_period_s, min_items, max_items, se_target, opens, closes) = row
        return cls(id_, program_id, ExamKind(kind), materi_id, code, _float(cut_score),
                   max_attempts, duration_s, waiting_period_s, min_items, max_items,
                   _float(se_target), _timestamp(opens), _timestamp(closes))

    @property
    def slot(self) -> str:
        return exam_slot(self.kind, self.materi_id)


@dataclass(frozen=True)
class _AttemptRow:
    """What a result and the gates read of an attempt, from a JSON row of _PLAIN_RESULT."""

    id: int
    slot: str
    number: int
    state: AttemptState
    passed: bool | None
    finished_at: dt.datetime | None
    theta: float | None
    se: float | None
    score: float | None
    stop_reason: str | None

    @classmethod
    def from_json(cls, row: list[Any]) -> _AttemptRow:
        id_, slot, number, state, passed, finished_at, theta, se, score, stop_reason = row
        return cls(id_, slot, number, AttemptState(state), passed, _timestamp(finished_at),
                   _float(theta), _float(se), _float(score), stop_reason)


@dataclass(frozen=True)
class _CertificateRow:
    number: str
    route: CertificateRoute
    attempt_id: int


def _plain_pool(session: Session, exam: _ExamRow, version: int) -> Pool | None:
    pool = exam_pool(session, exam, version=version)  # type: ignore[arg-type]
    if session.in_transaction():
        # A cache miss read the pool through the session (another connection than the
        # answer's): end that read-only transaction.
        session.commit()
    return pool


# Program settings by their JSON text: parsing and validating them on every answer cost more
# than reading them.  Frozen, so sharing one object between requests is safe.
_PLAIN_SETTINGS: dict[str, ProgramSettings] = {}


def _plain_settings(text: str) -> ProgramSettings:
    settings = _PLAIN_SETTINGS.get(text)
    if settings is None:
        if len(_PLAIN_SETTINGS) >= 64:
            _PLAIN_SETTINGS.clear()
        settings = _PLAIN_SETTINGS[text] = ProgramSettings.from_json(json.loads(text))
    return settings


def _int4s(packed: bytes | None) -> np.ndarray:
    """The integers of a ``string_agg(int4send(...))``: the participant's seen items and the
    exposure counts come as packed bytes, which cost about a sixth of the CPU of parsing the
    text of arrays of a bank's size (measured: 38 against 235 us for 914 (id, count) pairs)."""
    return np.frombuffer(packed or b"", dtype=">i4")


def _on_raw_connection(session: Session, case: Callable[..., R | None], *args: Any) -> R | None:
    """``case(session, cursor, *args)`` in a transaction of a pooled connection of its own,
    without the ORM session, on PostgreSQL (None elsewhere): for the requests of nearly every
    participant, whose unit of work, flushes and commit would cost more CPU than everything
    else they do.

    A case returns None having written nothing when the request is not its plain case; its
    transaction, which only locked the participant, is committed all the same (a rollback
    would deallocate psycopg's prepared statements) and the general path handles the request.
    """
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return None
    try:
        # Unlike a Session, the raw pool does not wrap driver errors in SQLAlchemy's: a
        # database that is down or restarting is reported as SQLAlchemy would (server.errors
        # maps that to 503), and a broken connection is never handed out again.
        pooled = engine.raw_connection()
    except psycopg.OperationalError as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from None
    try:
        connection = pooled.driver_connection
        try:
            outcome = case(session, connection.cursor(), *args)
            connection.commit()
        except psycopg.OperationalError as exc:
            pooled.invalidate(exc)
            raise DBAPIError.instance(None, None, exc, psycopg.Error) from None
        except BaseException:
            connection.rollback()
            raise
    finally:
        pooled.close()
    return outcome


def _plain_lock(cursor: psycopg.Cursor, participant_id: int,
                now: dt.datetime | None) -> dt.datetime | None:
    """Lock the participant (as _lock_participant); the time of the request, None if unknown."""
    row = cursor.execute(_PLAIN_LOCK, {"participant_id": participant_id}).fetchone()
    if row is None:
        return None
    return row[0].astimezone(dt.UTC) if now is None else _frozen(now)


def _answer_plain(session: Session, participant_id: int, attempt_id: int,
                  item_id: int | str, choice: int, now: dt.datetime | None) -> AnswerOutcome | None:
    """The answer of nearly every request on PostgreSQL: the current item of a running CAT
    attempt answered in time with a valid option.

    It applies exactly the rules of the general path (same lock, same checks, estimate,
    stopping rule, selection, random stream and grading) in a few statements on a connection
    of its own (see :func:`_on_raw_connection`).  The general path handles and reports every
    other case, and the end of a test that issues a certificate.
    """
    if isinstance(choice, bool) or not isinstance(choice, int):
        return None
    try:
        item_id = int(item_id)
    except (TypeError, ValueError):
        return None
    return _on_raw_connection(session, _answer_plain_case, participant_id, attempt_id, item_id,
                              choice, now)


def _answer_plain_case(session: Session, cursor: psycopg.Cursor, participant_id: int,
                       attempt_id: int, item_id: int, choice: int,
                       now: dt.datetime | None) -> AnswerOutcome | None:
    """The statements and rules of :func:`_answer_plain` on ``cursor``, inside its transaction;
    None as soon as the case turns out not to be the plain one."""
    now = _plain_lock(cursor, participant_id, now)
    if now is None:
        return None
    row = cursor.execute(_PLAIN_STATE, {"attempt_id": attempt_id}).fetchone()
    if (row is None or row[0] != participant_id or row[2] != AttemptState.STARTED
            or row[5] != Assembly.CAT):
        return None
    (_, program_id, _, deadline, seed, _, exam_json, settings_json, version, seen, attempts,
     exposed, rows) = row
    deadline = deadline.astimezone(dt.UTC)
    exam = _ExamRow.from_json(exam_json)
    settings = _plain_settings(settings_json)
    if _is_due(deadline, settings, now):
        return None
    rows = rows or []
    pending = [r for r in rows if not r[3]]
    if len(pending) != 1 or pending[0][1] != item_id or not 0 <= choice < len(pending[0][2]):
        return None
    current = pending[0]
    original = int(current[2][choice])
    correct = original == current[5]
    pool = _plain_pool(session, exam, version)
    if pool is None:
        return None
    # The answers in test order, the pending one last (it is the highest position).
    graded = [r for r in rows if r[3]] + [current]
    at, in_pool = pool.locate([r[1] for r in graded])
    if not in_pool.all():
        return None  # an item of this attempt left the pool since: the general path grades
    theta = pool.grid_table.eap(
        at, np.array([1 if r[4] else 0 for r in graded[:-1]] + [int(correct)], dtype=np.int64))
    rules = exam_rules(exam, settings)
    rule = StoppingRule(min_items=rules.min_items, max_items=rules.max_items,
                        se_target=rules.se_target, theta_cut=_theta_cut(pool, rules.cut_score))
    answer = {"shown_choice": choice, "choice": original, "correct": correct, "now": now,
              "response_id": current[0], "attempt_id": attempt_id}
    reason = rule.reason(len(graded), theta)
    if reason is not None:
        result = _plain_finish(cursor, participant_id, exam, rules, pool, theta, reason, answer)
        if result is None:
            return None
        return AnswerOutcome(attempt_id=attempt_id, item_id=item_id, stored=True, finished=True,
                             next_item=None, result=result)
    base = np.zeros(len(pool), dtype=bool)
    base[pool.positions(_int4s(seen))] = True
    if base.all():
        return None
    exposed = _int4s(exposed).reshape(-1, 2)
    counts = pool.counts(exposed[:, 0], exposed[:, 1])
    position = len(rows) + 1
    content_counts = pool.content_counts(positions=at)  # ``graded`` is ``rows`` reordered
    rng = np.random.default_rng([seed, position])
    index = next_cat_item(pool.bank, theta.theta, base=base, counts=counts, attempts=attempts,
                          max_exposure=settings.max_exposure, k=settings.randomesque_k,
                          slack=settings.exposure_slack, content_shares=pool.content_shares,
                          content_counts=content_counts, rng=rng)
    next_id = int(pool.item_ids[index])
    text = pool.texts.get(next_id)
    if text is None:
        text = pool.texts[next_id] = cursor.execute(_PLAIN_ITEM, {"item_id": next_id}).fetchone()
    stem, options = text
    shown_order = _shuffle(rng, len(options))
    # RULE: SPEC.md flow 4 — the UNIQUE seen-item set makes a repeat impossible.
    written = cursor.execute(_PLAIN_WRITE, {
        **answer, "item_id": next_id, "position": position, "shown_order": Json(shown_order),
        "participant_id": participant_id, "program_id": program_id,
        "exam_id": exam.id}).fetchone()
    if written[0] != 1:  # cannot happen under the participant's lock; never store half
        raise Conflict("answered_with_other_option")
    presentation = ItemPresentation(
        attempt_id=attempt_id, item_id=next_id, position=position, stem=stem,
        options=[options[i] for i in shown_order], deadline=deadline,
        seconds_left=max(0.0, (deadline - now).total_seconds()), answered=len(graded),
        max_items=rules.max_items)
    return AnswerOutcome(attempt_id=attempt_id, item_id=item_id, stored=True, finished=False,
                         next_item=presentation, result=None)


def _plain_finish(cursor: psycopg.Cursor, participant_id: int, exam: _ExamRow,
                  rules: ExamRules, pool: Pool, final: Estimate, reason: str,
                  answer: dict[str, Any]) -> AttemptResult | None:
    """Store the last answer of a CAT attempt and submit it graded, as _finish() does; None
    (nothing written) when the grade earns a certificate, which the general path issues."""
    theta, se, score, passed = _marks(final, pool.bank.a, pool.bank.b, pool.bank.c,
                                      rules.cut_score)
    if passed and exam.kind in _CERTIFYING:
        return None
    attempt_id = answer["attempt_id"]
    actor, subject, details = _finished_entry(participant_id, attempt_id,
                                              AttemptState.SUBMITTED, score, passed)
    written = cursor.execute(_PLAIN_FINISH, {
        **answer, "reason": reason, "theta": theta, "se": se, "score": score, "passed": passed,
        "actor": actor, "subject": subject, "details": Json(details)}).fetchone()
    if written != (1, 1):  # cannot happen under the participant's lock; never store half
        raise Conflict("answered_with_other_option")
    return _plain_result(cursor, participant_id, attempt_id, answer["now"])


def _plain_result(cursor: psycopg.Cursor, participant_id: int, attempt_id: int,
                  now: dt.datetime) -> AttemptResult | None:
    """The result of the attempt as _result() makes it, from one statement; None when the
    attempt is not the participant's or its time ran out while it is running (the general
    path refuses or expires it)."""
    row = cursor.execute(_PLAIN_RESULT, {"attempt_id": attempt_id}).fetchone()
    if row is None or row[0] != participant_id:
        return None
    _, exam_id, state, deadline, settings_json, answered, exams, attempts, total, done, cert = row
    settings = _plain_settings(settings_json)
    if state == AttemptState.STARTED and _is_due(deadline, settings, now):
        return None
    exam_rows = [_ExamRow.from_json(e) for e in exams]
    attempt_rows = [_AttemptRow.from_json(a) for a in attempts]
    standing = _Standing(
        settings=settings, exams=exam_rows, slots=_by_slot(attempt_rows),
        assignments_total=total, assignments_done=done,
        certificate=None if cert is None else _CertificateRow(cert[0], CertificateRoute(cert[1]),
                                                              cert[2]))
    return _attempt_result(next(a for a in attempt_rows if a.id == attempt_id),
                           next(e for e in exam_rows if e.id == exam_id), standing, answered, now)


def _result_plain_case(session: Session, cursor: psycopg.Cursor, participant_id: int,
                       attempt_id: int, now: dt.datetime | None) -> AttemptResult | None:
    """A result request on PostgreSQL's plain path: the participant's lock and _PLAIN_RESULT."""
    now = _plain_lock(cursor, participant_id, now)
    return None if now is None else _plain_result(cursor, participant_id, attempt_id, now)


def record_answer(session: Session, *, participant_id: int, attempt_id: int, item_id: int | str,
                  choice: int, now: dt.datetime | None = None) -> AnswerOutcome:
    """Store the answer ``choice`` (0-based shown position) to the current item.

    Idempotent: the same (item, choice) again returns ``stored=False``.  A different choice for
    an answered item, an item that is not the current one, a finished attempt or a passed
    deadline raise Conflict (the attempt is then expired).
    """
    fast = _answer_plain(session, participant_id, attempt_id, item_id, choice, now)
    if fast is not None:
        return fast
    # Anything else (a repeat, a wrong item, the last answer, a deadline...) takes the general
    # path: one transaction of the session that reads everything again under the lock.
    return _record_answer(session, participant_id=participant_id, attempt_id=attempt_id,
                          item_id=item_id, choice=choice, now=now)


@_transaction
def _record_answer(session: Session, *, participant_id: int, attempt_id: int,
                   item_id: int | str, choice: int, now: dt.datetime | None) -> AnswerOutcome:
    now = _lock_participant(session, participant_id, now)
    attempt = _own_attempt(session, participant_id, attempt_id)
    try:
        item_id = int(item_id)
    except (TypeError, ValueError):
        raise InvalidInput("item_id_not_integer") from None
    if isinstance(choice, bool) or not isinstance(choice, int):
        raise InvalidInput("choice_not_integer")
    response = next((r for r in attempt.responses if r.item_id == item_id), None)
    if response is None:
        raise Conflict("item_not_in_attempt")
    if response.answered_at is not None:
        if response.shown_choice == choice:
            return AnswerOutcome(attempt_id=attempt.id, item_id=item_id, stored=False,
                                 finished=attempt.state != AttemptState.STARTED,
                                 next_item=_next_presentation(attempt, now),
                                 result=_result_if_final(session, attempt, now))
        raise Conflict("answered_with_other_option")
    if attempt.state != AttemptState.STARTED:
        raise Conflict("attempt_finished")
    if _expire_if_due(session, attempt, now):
        raise _CommitThenRaise(Conflict("time_up"))
    if response is not _current_response(attempt):
        raise Conflict("not_current_item")
    if not 0 <= choice < len(response.shown_order):
        raise InvalidInput("choice_out_of_range", choice=choice, last=len(response.shown_order) - 1)
    item = response.item
    response.shown_choice = choice
    response.choice = int(response.shown_order[choice])
    response.correct = response.choice == item.key
    response.answered_at = now
    session.flush()
    _advance(session, attempt, now)
    return AnswerOutcome(attempt_id=attempt.id, item_id=item_id, stored=True,
                         finished=attempt.state != AttemptState.STARTED,
                         next_item=_next_presentation(attempt, now),
                         result=_result_if_final(session, attempt, now))


def _next_presentation(attempt: Attempt, now: dt.datetime) -> ItemPresentation | None:
    if attempt.state != AttemptState.STARTED:
        return None
    response = _current_response(attempt)
    return None if response is None else _presentation(attempt, response, now)


def _result_if_final(session: Session, attempt: Attempt,
                     now: dt.datetime) -> AttemptResult | None:
    return None if attempt.state == AttemptState.STARTED else _result(session, attempt, now)


def _items(session: Session, responses: list[Response]) -> list[Item]:
    """The items of ``responses``, in order, in one query (lazy loads would cost one each)."""
    ids = [r.item_id for r in responses]
    found = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)))}
    return [found[i] for i in ids]


def _estimate(session: Session, responses: list[Response], pool: Pool | None) -> Estimate:
    """EAP theta of the responses: on the pool's table while every item is still in the pool
    (as the plain answer does, so both paths agree to the bit), else on the items' own
    parameters."""
    u = np.array([1 if r.correct else 0 for r in responses], dtype=np.int64)
    if pool is not None:
        at, in_pool = pool.locate([r.item_id for r in responses])
        if in_pool.all():
            return pool.grid_table.eap(at, u)
    items = _items(session, responses)
    return estimate(u, np.array([i.a if i.a is not None else 1.0 for i in items]),
                    np.array([i.b for i in items], dtype=np.float64),
                    np.array([i.c or 0.0 for i in items], dtype=np.float64), method="eap")


def _advance(session: Session, attempt: Attempt, now: dt.datetime) -> None:
    """After an answer: stop (and grade) or present the next item."""
    exam = attempt.exam
    settings = exam.program.settings
    rules = exam_rules(exam, settings)
    answered = _answered(attempt)
    if exam.assembly == Assembly.LOFT:
        if _current_response(attempt) is None:
            _finish(session, attempt, AttemptState.SUBMITTED, now, reason="max_items")
        return
    pool = exam_pool(session, exam)
    current = _estimate(session, answered, pool)
    theta_cut = None if pool is None else _theta_cut(pool, rules.cut_score)
    rule = StoppingRule(min_items=rules.min_items, max_items=rules.max_items,
                        se_target=rules.se_target, theta_cut=theta_cut)
    # RULE: SPEC.md "Stopping" — SE target, decision at the cut certain, min and max length.
    reason = rule.reason(len(answered), current)
    if reason is not None:
        _finish(session, attempt, AttemptState.SUBMITTED, now, reason=reason,
                graded=(pool, current))
        return
    seen = _seen_item_ids(session, attempt.participant_id, attempt.program_id)
    if pool is None or not _present_next(session, attempt, exam, pool, seen, rules, settings,
                                         current, now):
        _finish(session, attempt, AttemptState.SUBMITTED, now, reason="bank",
                graded=(pool, current))


def _theta_cut(pool: Pool, cut_score: float) -> float | None:
    """theta whose domain score equals the cut; None when the cut is unreachable."""
    if cut_score not in pool.theta_cuts:
        try:
            theta = theta_for_score(cut_score, pool.bank.a, pool.bank.b, pool.bank.c)
        except ValueError:
            theta = None
        pool.theta_cuts[cut_score] = theta
    return pool.theta_cuts[cut_score]


# --------------------------------------------------------------------------- finishing


@_transaction
def finish_attempt(session: Session, *, participant_id: int, attempt_id: int,
                   now: dt.datetime | None = None) -> AttemptResult:
    """Submit the attempt (expired instead when its time ran out); idempotent once final."""
    now = _lock_participant(session, participant_id, now)
    attempt = _own_attempt(session, participant_id, attempt_id)
    if attempt.state == AttemptState.STARTED and not _expire_if_due(session, attempt, now):
        _finish(session, attempt, AttemptState.SUBMITTED, now, reason="submitted")
    return _result(session, attempt, now)


def attempt_result(session: Session, *, participant_id: int, attempt_id: int,
                   now: dt.datetime | None = None) -> AttemptResult:
    """The result of the participant's attempt (score None while it is still running)."""
    fast = _on_raw_connection(session, _result_plain_case, participant_id, attempt_id, now)
    if fast is not None:
        return fast
    # Not PostgreSQL, not the participant's attempt, or its time ran out: expire it if due.
    return _attempt_result_general(session, participant_id=participant_id,
                                   attempt_id=attempt_id, now=now)


@_transaction
def _attempt_result_general(session: Session, *, participant_id: int, attempt_id: int,
                            now: dt.datetime | None) -> AttemptResult:
    now = _lock_participant(session, participant_id, now)
    attempt = _own_attempt(session, participant_id, attempt_id)
    _expire_if_due(session, attempt, now)
    return _result(session, attempt, now)


def expire_due_attempts(session: Session, *, now: dt.datetime | None = None) -> int:
    """Expire (and grade) every running attempt past its deadline; returns how many.

    Each attempt is its own transaction under its participant's lock, so the sweeper never
    blocks exam traffic for long and never races an answer.
    """
    now = _now(session, now)
    session.commit()
    candidates = session.execute(
        select(Attempt.id, Attempt.participant_id)
        .where(Attempt.state == AttemptState.STARTED, Attempt.deadline < now)).all()
    session.commit()
    expired = 0
    for attempt_id, participant_id in candidates:
        expired += _expire_one(session, participant_id=participant_id, attempt_id=attempt_id,
                               now=now)
    return expired


@_transaction
def _expire_one(session: Session, *, participant_id: int, attempt_id: int,
                now: dt.datetime) -> int:
    _lock_participant(session, participant_id)
    attempt = _own_attempt(session, participant_id, attempt_id)
    return int(_expire_if_due(session, attempt, now))


def _finished_entry(participant_id: int, attempt_id: int, state: AttemptState,
                    score: float | None, passed: bool | None) -> tuple[str, str, dict[str, Any]]:
    """Actor, subject and details of the audit entry "attempt_finished" (both paths)."""
    return (f"participant:{participant_id}", f"attempt:{attempt_id}",
            {"state": state.value, "score": score, "passed": passed})


# RULE: SPEC.md flow 1 and 3 — a certificate at >= 85 in the pre-assessment (no training) or
# for kompeten in the ujikom; exactly one per participant and program.
_CERTIFYING = (ExamKind.PRE_ASSESSMENT, ExamKind.UJIKOM)


def _finish(session: Session, attempt: Attempt, state: AttemptState, now: dt.datetime,
            reason: str | None = None, *,
            graded: tuple[Pool | None, Estimate] | None = None) -> None:
    """Move to a terminal state, grade, and issue the certificate when earned.

    ``graded``: the exam's pool and the estimate from the answered items, when the caller (a
    CAT answer that stops the test) has just computed them in this transaction.
    """
    attempt.transition(state)
    attempt.finished_at = now
    attempt.stop_reason = reason if state == AttemptState.SUBMITTED else "time"
    exam = attempt.exam
    program = exam.program
    rules = exam_rules(exam, program.settings)
    _grade(session, attempt, exam, rules, graded)
    actor, subject, details = _finished_entry(attempt.participant_id, attempt.id, state,
                                              attempt.score, attempt.passed)
    _audit(session, actor, "attempt_finished", subject, **details)
    if attempt.passed and exam.kind in _CERTIFYING:
        _issue_certificate(session, attempt, program, CertificateRoute(exam.kind.value), now)
    session.flush()


def _grade(session: Session, attempt: Attempt, exam: Exam, rules: ExamRules,
           graded: tuple[Pool | None, Estimate] | None = None) -> None:
    """RULE: SPEC.md "Scores on the 0-100 scale" — the domain score over the reference pool
    at the final EAP theta; passed = score >= cut.

    CAT scores the answered items.  A LOFT form is fixed, so its unanswered items count as
    wrong (otherwise skipping hard items would pay).  No answer at all scores 0.
    """
    responses = list(attempt.responses)
    if exam.assembly == Assembly.CAT:
        responses = _answered(attempt)
    if not any(r.answered_at is not None for r in responses):
        attempt.theta, attempt.se, attempt.score, attempt.passed = None, None, 0.0, False
        return
    if graded is None:
        pool = exam_pool(session, exam)
        graded = pool, _estimate(session, responses, pool)
    pool, result = graded
    if pool is None:  # every item retired since the start: score on the items given
        items = _items(session, responses)
        a = np.array([i.a for i in items])
        b = np.array([i.b for i in items])
        c = np.array([i.c or 0.0 for i in items])
    else:
        a, b, c = pool.bank.a, pool.bank.b, pool.bank.c
    attempt.theta, attempt.se, attempt.score, attempt.passed = _marks(result, a, b, c,
                                                                      rules.cut_score)


def _marks(result: Estimate, a: np.ndarray, b: np.ndarray, c: np.ndarray,
           cut_score: float) -> tuple[float, float, float, bool]:
    """(theta, se, score, passed) of a final estimate, scored over the items (a, b, c)."""
    score = float(domain_score(result.theta, a, b, c))
    return float(result.theta), float(result.se), score, bool(score >= cut_score)


def _issue_certificate(session: Session, attempt: Attempt, program: Program,
                       route: CertificateRoute, now: dt.datetime) -> None:
    exists = session.scalar(select(Certificate.id).where(
        Certificate.participant_id == attempt.participant_id,
        Certificate.program_id == program.id))
    if exists is not None:
        return
    number = f"{program.code}-{now:%Y}-{secrets.token_hex(5).upper()}"
    session.add(Certificate(number=number, participant_id=attempt.participant_id,
                            program_id=program.id, attempt_id=attempt.id, route=route,
                            score=attempt.score, issued_at=now))
    _audit(session, "system", "certificate_issued", f"certificate:{number}",
           attempt=attempt.id, route=route.value)


# --------------------------------------------------------------------------- status


def _result(session: Session, attempt: Attempt, now: dt.datetime) -> AttemptResult:
    standing = _standing(session, attempt.participant_id, attempt.exam.program)
    return _attempt_result(attempt, attempt.exam, standing, len(_answered(attempt)), now)


def _attempt_result(attempt: Attempt | _AttemptRow, exam: Exam | _ExamRow, standing: _Standing,
                    answered: int, now: dt.datetime) -> AttemptResult:
    rules = exam_rules(exam, standing.settings)
    used = len(standing.slots.get(exam.slot, []))
    final = attempt.state != AttemptState.STARTED
    category = None
    if exam.kind == ExamKind.UJIKOM and final:
        category = KOMPETEN if attempt.passed else BELUM_KOMPETEN
    return AttemptResult(
        attempt_id=attempt.id, exam_id=exam.id, kind=exam.kind.value, number=attempt.number,
        state=attempt.state.value, answered=answered,
        score=attempt.score if final else None, passed=attempt.passed if final else None,
        cut_score=rules.cut_score, theta=attempt.theta, se=attempt.se,
        stop_reason=attempt.stop_reason, category=category,
        certificate_number=(standing.certificate.number
                            if standing.certificate and standing.certificate.attempt_id
                            == attempt.id else None),
        attempts_left=max(0, rules.max_attempts - used),
        next_step=_next_step(standing, now))


def _next_step(standing: _Standing, now: dt.datetime) -> Notice:
    """What comes next for the participant in the program."""
    if standing.certificate is not None:
        route = standing.certificate.route
        if route == CertificateRoute.PRE_ASSESSMENT:
            return Notice("next_certified_pre_assessment")
        return Notice("next_certified_ujikom")
    exams = {e.slot: e for e in standing.exams}
    for exam in standing.exams:
        if standing.slots.get(exam.slot) and any(
                a.state == AttemptState.STARTED for a in standing.slots[exam.slot]):
            return Notice("next_continue", {"exam": exam.code})
    order = [ExamKind.PRE_ASSESSMENT.value, *standing.materi_slots(), ExamKind.UJIKOM.value]
    for slot in order:
        exam = exams.get(slot)
        if exam is None or standing.passed(slot):
            continue
        if slot == ExamKind.PRE_ASSESSMENT.value:
            if not standing.slots.get(slot):
                return Notice("next_take_pre_assessment", {"exam": exam.code})
            continue
        rules = exam_rules(exam, standing.settings)
        reason, until = _gate(standing, exam, rules, now)
        if reason is None:
            return Notice("next_take", {"exam": exam.code})
        if until is not None:
            return reason
        used = len(standing.slots.get(slot, []))
        if used >= rules.max_attempts:
            if exam.kind == ExamKind.UJIKOM:
                return Notice("next_belum_kompeten")
            return Notice("next_no_attempts", {"exam": exam.code})
        if exam.kind == ExamKind.UJIKOM:
            return reason
    return Notice("next_nothing")


@_transaction
def program_status(session: Session, *, participant_id: int, program_id: int,
                   now: dt.datetime | None = None) -> ProgramStatus:
    """Where the participant stands in the program: every exam, its gate and the next step."""
    now = _lock_participant(session, participant_id, now)
    program = session.get(Program, program_id)
    if program is None:
        raise NotFound("program_not_found")
    try:
        _require_enrolment(session, participant_id, program_id)
    except Forbidden:
        raise NotFound("program_not_found") from None
    standing = _standing(session, participant_id, program)
    exams = []
    for exam in standing.exams:
        rules = exam_rules(exam, standing.settings)
        attempts = standing.slots.get(exam.slot, [])
        running = next((a for a in attempts if a.state == AttemptState.STARTED), None)
        reason, until = (None, None) if running else _gate(standing, exam, rules, now)
        scores = [a.score for a in attempts if a.score is not None]
        exams.append(ExamStatus(
            exam_id=exam.id, code=exam.code, title=exam.title, kind=exam.kind.value,
            materi_code=exam.materi.code if exam.materi else None, attempts_used=len(attempts),
            max_attempts=rules.max_attempts, passed=standing.passed(exam.slot),
            best_score=max(scores) if scores else None,
            running_attempt_id=running.id if running else None,
            available=running is not None or reason is None, locked_reason=reason,
            available_from=until))
    category = None
    ujikom = standing.slots.get(ExamKind.UJIKOM.value, [])
    if standing.passed(ExamKind.UJIKOM.value):
        category = KOMPETEN
    elif ujikom and all(a.state != AttemptState.STARTED for a in ujikom):
        category = BELUM_KOMPETEN
    return ProgramStatus(
        program_id=program.id, program_code=program.code, program_name=program.name,
        exams=exams, assignments_done=standing.assignments_done,
        assignments_total=standing.assignments_total, category=category,
        certificate_number=standing.certificate.number if standing.certificate else None,
        next_step=_next_step(standing, now))


__all__ = [
    "AnswerOutcome", "AttemptResult", "AttemptView", "ExamRules", "ExamStatus",
    "ItemPresentation", "ProgramStatus", "attempt_result", "attempt_view", "current_item",
    "enrol", "exam_rules", "expire_due_attempts", "finish_attempt", "program_status",
    "record_answer", "start_attempt",
]
