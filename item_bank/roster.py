"""A program's roster for its administrators: progress, assignment completions in bulk, undo.

Each participant's progress is what the participant sees: the exam policy's
:func:`item_bank.policy.views.program_status` over the same standing the participant's pages
read (:meth:`item_bank.policy.store_orm.OrmStore.standing`), without the participant's lock
(a read for staff never waits for, nor delays, an exam request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .admin import program_by_id
from .db import db_now, lock_one
from .errors import NotFound
from .messages import Notice
from .models import (
    Assignment,
    AssignmentCompletion,
    AuditLog,
    Enrolment,
    Participant,
    Program,
    validate_nip,
)
from .policy.store_orm import OrmStore
from .policy.views import ProgramStatus, program_status
from .tx import transactional

PAGE_SIZE = 25
QUERY_MAX = 100


@dataclass(frozen=True)
class RosterRow:
    """One enrolled participant, their progress and the assignments marked done for them
    (assignment id -> (when, by whom))."""

    participant_id: int
    nip: str
    name: str
    unit: str
    status: ProgramStatus
    done: dict[int, tuple[dt.datetime, str]]


@dataclass(frozen=True)
class RosterPage:
    rows: list[RosterRow]
    total: int
    page: int
    pages: int
    assignments: list[Assignment] = field(default_factory=list)


def _search(program_id: int, query: str):
    """The enrolled participants of the program whose NIP or name contains ``query``."""
    stmt = (select(Participant).join(Enrolment, Enrolment.participant_id == Participant.id)
            .where(Enrolment.program_id == program_id))
    query = query.strip()[:QUERY_MAX]
    if query:
        # LIKE's wildcards in the query are letters to look for, not patterns.
        pattern = "%" + (query.lower().replace("\\", "\\\\").replace("%", "\\%")
                         .replace("_", "\\_")) + "%"
        stmt = stmt.where(or_(Participant.nip.like(pattern, escape="\\"),
                              func.lower(Participant.name).like(pattern, escape="\\")))
    return stmt


def _rows(session: Session, program: Program, people: Sequence[Participant],
          now: dt.datetime) -> list[RosterRow]:
    store = OrmStore(session)
    ids = [p.id for p in people]
    done: dict[int, dict[int, tuple[dt.datetime, str]]] = {i: {} for i in ids}
    for participant_id, assignment_id, at, by in session.execute(
            select(AssignmentCompletion.participant_id, AssignmentCompletion.assignment_id,
                   AssignmentCompletion.completed_at, AssignmentCompletion.marked_by)
            .join(Assignment, Assignment.id == AssignmentCompletion.assignment_id)
            .where(Assignment.program_id == program.id,
                   AssignmentCompletion.participant_id.in_(ids))):
        done[participant_id][assignment_id] = (at, by)
    return [RosterRow(participant_id=p.id, nip=p.nip, name=p.name, unit=p.unit,
                      status=program_status(store.standing(p.id, program.id),
                                            program_id=program.id, program_code=program.code,
                                            program_name=program.name, now=now),
                      done=done[p.id])
            for p in people]


def _assignments(session: Session, program_id: int) -> list[Assignment]:
    return list(session.scalars(select(Assignment).where(Assignment.program_id == program_id)
                                .order_by(Assignment.id)))


def roster_page(session: Session, *, program_id: int, query: str = "", page: int = 1,
                per_page: int = PAGE_SIZE, now: dt.datetime | None = None) -> RosterPage:
    """Page ``page`` (from 1; past the last: the last) of the program's participants whose
    NIP or name contains ``query`` (case-insensitive), by NIP, with their progress."""
    program = program_by_id(session, program_id)
    now = db_now(session) if now is None else now
    stmt = _search(program.id, query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    people = session.scalars(stmt.order_by(Participant.nip)
                             .offset((page - 1) * per_page).limit(per_page)).all()
    return RosterPage(rows=_rows(session, program, people, now), total=total, page=page,
                      pages=pages, assignments=_assignments(session, program.id))


# Cells a spreadsheet would take for a formula (CSV injection, OWASP): written as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell that no spreadsheet runs: one starting with ``= + - @`` (or a
    tab or carriage return) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def roster_table(session: Session, *, program_id: int, query: str = "",
                 now: dt.datetime | None = None) -> list[list[str]]:
    """The roster (every participant ``query`` finds) as rows of CSV cells, the header
    first: NIP, name, unit; per exam whether passed and the attempts used of the limit; per
    assignment whether done; assignments done; certificate number; category."""
    program = program_by_id(session, program_id)
    now = db_now(session) if now is None else now
    people = session.scalars(_search(program.id, query).order_by(Participant.nip)).all()
    rows = _rows(session, program, people, now)
    assignments = _assignments(session, program.id)
    exams = rows[0].status.exams if rows else []
    header = ["nip", "name", "unit"]
    for exam in exams:
        header += [f"{exam.code} passed", f"{exam.code} attempts"]
    header += [f"{a.code} done" for a in assignments]
    header += ["assignments done", "certificate", "category"]
    # Assignment codes are not held to the code pattern: the header is escaped as well.
    table = [[csv_cell(c) for c in header]]
    for row in rows:
        cells: list[object] = [row.nip, row.name, row.unit]
        for exam in row.status.exams:
            cells += ["yes" if exam.passed else "no",
                      f"{exam.attempts_used}/{exam.max_attempts}"]
        cells += ["yes" if a.id in row.done else "no" for a in assignments]
        cells += [f"{row.status.assignments_done}/{row.status.assignments_total}",
                  row.status.certificate_number or "", row.status.category or ""]
        table.append([csv_cell(c) for c in cells])
    return table


# --- assignment completions in bulk ---------------------------------------------------------


class CompletionRejected(ValueError):
    """A refused completion file: ``problems`` lists ``(line, notice)``; nothing was stored."""

    def __init__(self, problems: list[tuple[int, Notice]]) -> None:
        super().__init__(f"{len(problems)} bad line(s), nothing marked")
        self.problems = problems


@dataclass(frozen=True)
class PlannedCompletion:
    """One line of a completion file: who, which assignment, and whether it is done already."""

    line: int
    participant_id: int
    nip: str
    name: str
    assignment_id: int
    assignment_code: str
    already_done: bool


def plan_completions(session: Session, *, program_id: int, rows: Sequence[Sequence[str]],
                     lines: Sequence[int], assignment_id: int | None = None
                     ) -> list[PlannedCompletion]:
    """Check every ``(nip[, assignment code])`` row of a completion file against the program;
    ``assignment_id`` is the assignment of rows without a code.  CompletionRejected names
    every bad line (malformed NIP, unknown NIP, not enrolled here, unknown assignment, the
    same NIP and assignment twice); nothing is written."""
    program = program_by_id(session, program_id)
    by_code = {a.code: a for a in _assignments(session, program.id)}
    by_id = {a.id: a for a in by_code.values()}
    default = by_id.get(assignment_id) if assignment_id is not None else None
    if assignment_id is not None and default is None:
        raise NotFound("assignment_not_found", assignment=assignment_id)
    problems: list[tuple[int, Notice]] = []
    parsed: list[tuple[int, str, Assignment]] = []
    first_seen: dict[tuple[str, int], int] = {}
    for row, line in zip(rows, lines, strict=True):
        if not 1 <= len(row) <= 2:
            problems.append((line, Notice("completion_fields", {"count": len(row)})))
            continue
        raw, code = row[0].strip(), (row[1].strip() if len(row) > 1 else "")
        try:
            nip = validate_nip(raw)
        except ValueError:
            problems.append((line, Notice("completion_nip_malformed", {"nip": raw[:40]})))
            continue
        assignment = by_code.get(code) if code else default
        if assignment is None:
            problems.append((line, Notice("completion_assignment_unknown", {"code": code[:40]})
                             if code else Notice("completion_assignment_missing")))
            continue
        key = (nip, assignment.id)
        if key in first_seen:
            problems.append((line, Notice("completion_duplicate", {
                "nip": nip, "assignment": assignment.code, "first": first_seen[key]})))
            continue
        first_seen[key] = line
        parsed.append((line, nip, assignment))
    nips = {nip for _line, nip, _a in parsed}
    registered = {p.nip: p for p in session.scalars(
        select(Participant).where(Participant.nip.in_(nips)))} if nips else {}
    enrolled = set(session.scalars(select(Enrolment.participant_id).where(
        Enrolment.program_id == program.id,
        Enrolment.participant_id.in_([p.id for p in registered.values()])))) if nips else set()
    done = set(session.execute(
        select(AssignmentCompletion.participant_id, AssignmentCompletion.assignment_id)
        .where(AssignmentCompletion.participant_id.in_(list(enrolled))))) \
        if enrolled else set()
    planned = []
    for line, nip, assignment in parsed:
        participant = registered.get(nip)
        if participant is None:
            problems.append((line, Notice("completion_nip_unknown", {"nip": nip})))
        elif participant.id not in enrolled:
            problems.append((line, Notice("nip_not_enrolled", {"nip": nip})))
        else:
            planned.append(PlannedCompletion(
                line=line, participant_id=participant.id, nip=nip, name=participant.name,
                assignment_id=assignment.id, assignment_code=assignment.code,
                already_done=(participant.id, assignment.id) in done))
    if problems:
        raise CompletionRejected(sorted(problems, key=lambda p: p[0]))
    if not planned:
        raise CompletionRejected([(0, Notice("completion_empty"))])
    return planned


@transactional
def complete_assignments(session: Session, *, program_id: int,
                         rows: Sequence[Sequence[str]], lines: Sequence[int],
                         assignment_id: int | None = None, actor: str) -> int:
    """Mark every row of a completion file done (checked again by :func:`plan_completions`,
    in this transaction), all or none; rows already done stay as they were.  One audit entry
    per completion written, naming ``actor``.  Returns how many were newly marked."""
    planned = plan_completions(session, program_id=program_id, rows=rows, lines=lines,
                               assignment_id=assignment_id)
    new = [p for p in planned if not p.already_done]
    for p in new:
        session.add(AssignmentCompletion(assignment_id=p.assignment_id,
                                         participant_id=p.participant_id, marked_by=actor))
        session.add(AuditLog(actor=actor, action="assignment_done",
                             subject=f"assignment:{p.assignment_id}",
                             details={"participant": p.participant_id, "bulk": True}))
    session.flush()
    return len(new)


@transactional
def undo_completion(session: Session, *, program_id: int, assignment_id: int,
                    participant_id: int, actor: str) -> Participant:
    """Take back the completion of an assignment of the program for a participant, audited
    (who, when, and when and by whom it had been marked).  Undoing what is not marked changes
    nothing; NotFound for an assignment of another program or a participant not enrolled."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.program_id != program_id:
        raise NotFound("assignment_not_found", assignment=assignment_id)
    participant = session.scalar(
        select(Participant).join(Enrolment, Enrolment.participant_id == Participant.id)
        .where(Participant.id == participant_id, Enrolment.program_id == program_id))
    if participant is None:
        raise NotFound("participant_not_found")
    # Under the participant's lock, as the exam requests: an ujikom start that checks the
    # assignments sees the completion or its absence, never half of an undo.
    lock_one(session, Participant, participant.id)
    done = session.scalar(select(AssignmentCompletion).where(
        AssignmentCompletion.assignment_id == assignment_id,
        AssignmentCompletion.participant_id == participant_id))
    if done is not None:
        session.add(AuditLog(actor=actor, action="assignment_undone",
                             subject=f"assignment:{assignment_id}",
                             details={"participant": participant_id,
                                      "marked_at": done.completed_at.isoformat(),
                                      "marked_by": done.marked_by}))
        session.delete(done)
        session.flush()
    return participant
