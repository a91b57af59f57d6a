"""Administration helpers: programs, materi, exams, assignments, participants, items.

Used by the CLI, the server's admin pages and the tests.  Like the policy they validate input
(ValueError naming the problem) and each is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import db_now, lock_one
from .errors import NotFound
from .models import (
    Assembly,
    Assignment,
    AssignmentCompletion,
    AuditLog,
    ContentTag,
    Enrolment,
    Exam,
    ExamKind,
    Item,
    ItemStatus,
    Materi,
    Participant,
    Program,
    ProgramSettings,
    ServiceToken,
    validate_item_fields,
    validate_nip,
)
from .security import hash_password, hash_token, new_token
from .tx import transactional


def get_program(session: Session, code: str) -> Program:
    """The program with ``code``; ValueError "unknown program" otherwise."""
    program = session.scalar(select(Program).where(Program.code == code))
    if program is None:
        raise ValueError(f"unknown program {code!r}")
    return program


@transactional
def create_program(session: Session, *, code: str, name: str,
                   settings: dict[str, Any] | None = None) -> Program:
    if not code or not code.strip():
        raise ValueError("program code must not be empty")
    ProgramSettings.from_json(settings)  # validates
    if session.scalar(select(Program.id).where(Program.code == code)) is not None:
        raise ValueError(f"program {code!r} already exists")
    program = Program(code=code.strip(), name=name, settings_json=dict(settings or {}))
    session.add(program)
    session.add(AuditLog(actor="admin", action="program_created", subject=f"program:{code}"))
    session.flush()
    return program


@transactional
def add_materi(session: Session, program: Program, *, code: str, name: str,
               content_tags: list[str] = ()) -> Materi:
    materi = Materi(program_id=program.id, code=code, name=name)
    session.add(materi)
    session.flush()
    for tag in content_tags:
        session.add(ContentTag(materi_id=materi.id, code=tag, name=tag))
    session.flush()
    return materi


# What one exam day can hold: a deadline beyond it (or a datetime overflow, seconds far past
# year 9999) and attempt or item counts no program uses are typing mistakes or attacks.
EXAM_BOUNDS = {"duration_s": (60, 86_400), "max_attempts": (1, 100),
               "min_items": (1, 1_000), "max_items": (1, 1_000),
               "waiting_period_s": (0, 366 * 86_400)}


@transactional
def add_exam(session: Session, program: Program, *, code: str, kind: ExamKind | str,
             materi: Materi | None = None, assembly: Assembly | str = Assembly.CAT,
             **fields: Any) -> Exam:
    """Create an exam window; ``fields`` are Exam columns (cut_score, max_items, ...)."""
    kind = ExamKind(kind)
    if (kind == ExamKind.MATERI) != (materi is not None):
        raise ValueError("a materi exam needs its materi; other exams have none")
    unknown = set(fields) - set(Exam.__table__.columns.keys())
    if unknown:
        raise ValueError(f"unknown exam field(s): {', '.join(sorted(unknown))}")
    for name, (low, high) in EXAM_BOUNDS.items():
        value = fields.get(name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} must be within {low}..{high}")
    exam = Exam(program_id=program.id, code=code, kind=kind, assembly=Assembly(assembly),
                materi_id=materi.id if materi else None, **fields)
    session.add(exam)
    session.flush()
    return exam


@transactional
def add_assignment(session: Session, program: Program, *, code: str, title: str = "") -> Assignment:
    assignment = Assignment(program_id=program.id, code=code, title=title or code)
    session.add(assignment)
    session.flush()
    return assignment


@transactional
def mark_assignment_done(session: Session, *, assignment_id: int, participant_id: int,
                         marked_by: str = "admin") -> AssignmentCompletion:
    """Idempotent: marking twice keeps the first completion."""
    existing = session.scalar(select(AssignmentCompletion).where(
        AssignmentCompletion.assignment_id == assignment_id,
        AssignmentCompletion.participant_id == participant_id))
    if existing is not None:
        return existing
    if session.get(Assignment, assignment_id) is None:
        raise ValueError(f"unknown assignment {assignment_id}")
    if session.get(Participant, participant_id) is None:
        raise ValueError(f"unknown participant {participant_id}")
    done = AssignmentCompletion(assignment_id=assignment_id, participant_id=participant_id,
                                marked_by=marked_by)
    session.add(done)
    session.add(AuditLog(actor=marked_by, action="assignment_done",
                         subject=f"assignment:{assignment_id}",
                         details={"participant": participant_id}))
    session.flush()
    return done


class ImportRejected(ValueError):
    """A rejected import: ``problems`` lists ``(line, reason)``; nothing was stored."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {line}: {reason}" for line, reason in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing imported: {shown}{more}")


def _person(nip: str, name: str, unit: str | None) -> tuple[str, str, str]:
    """(nip, name, unit) validated and stripped; ValueError naming the problem."""
    nip = validate_nip(nip)
    if not name or not str(name).strip():
        raise ValueError("participant name must not be empty")
    return nip, str(name).strip(), str(unit or "").strip()


@transactional
def register_participant(session: Session, *, nip: str, name: str, unit: str = "",
                         password: str | None = None) -> Participant:
    nip, name, unit = _person(nip, name, unit)
    participant = Participant(nip=nip, name=name, unit=unit,
                              password_hash=hash_password(password) if password else None)
    if session.scalar(select(Participant.id).where(Participant.nip == participant.nip)):
        raise ValueError(f"NIP {participant.nip} is already registered")
    session.add(participant)
    session.flush()
    return participant


@transactional
def bulk_enrol(session: Session, *, program_id: int, rows: Iterable[Sequence[str]],
               lines: Sequence[int] | None = None, source: str = "roster") -> int:
    """Register (or update the name and unit of) and enrol every ``(nip, name, unit)`` row in
    the program, in one transaction: all rows or none.  Returns the number of rows.

    ``rows[i]`` is reported as line ``lines[i]`` (default ``i + 1``); every bad row (invalid
    NIP, empty name, NIP twice) is listed in one ImportRejected (a ValueError)
    and nothing is stored.
    Already enrolled participants stay enrolled once.
    """
    program = session.get(Program, program_id)
    if program is None:
        raise ValueError(f"unknown program {program_id}")
    problems: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    people: dict[str, tuple[str, str]] = {}
    rows = list(rows)
    for index, row in enumerate(rows):
        line = lines[index] if lines is not None else index + 1
        try:
            if not 2 <= len(row) <= 3:
                raise ValueError(f"expected nip,name,unit, got {len(row)} field(s)")
            nip, name, unit = _person(row[0], row[1], row[2] if len(row) > 2 else "")
            if nip in first_seen:
                raise ValueError(f"duplicate NIP {nip} (also on line {first_seen[nip]})")
            first_seen[nip] = line
            people[nip] = (name, unit)
        except ValueError as exc:
            problems.append((line, str(exc)))
    if problems:
        raise ImportRejected(source, problems)
    if not people:
        raise ValueError(f"{source}: no participants")
    registered = {p.nip: p for p in session.scalars(
        select(Participant).where(Participant.nip.in_(list(people))))}
    for nip, (name, unit) in people.items():
        if nip in registered:
            registered[nip].name, registered[nip].unit = name, unit
        else:
            registered[nip] = Participant(nip=nip, name=name, unit=unit)
            session.add(registered[nip])
    session.flush()
    enrolled = set(session.scalars(select(Enrolment.participant_id).where(
        Enrolment.program_id == program.id)))
    session.add_all(Enrolment(participant_id=p.id, program_id=program.id)
                    for p in registered.values() if p.id not in enrolled)
    session.add(AuditLog(actor="import", action="participants_imported",
                         subject=f"program:{program.code}", details={"count": len(people)}))
    session.flush()
    return len(people)


@transactional
def set_participant_password(session: Session, *, participant_id: int, password: str) -> None:
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise ValueError(f"unknown participant {participant_id}")
    participant.password_hash = hash_password(password)
    participant.session_version += 1  # a new password ends the sessions of the old one


def new_item(program: Program, materi: Materi, *, code: str, stem: str, options: list[str],
             key: int, model: str = "2pl", a: float | None = None, b: float | None = None,
             c: float | None = None, status: str = ItemStatus.DRAFT,
             content_tag: ContentTag | None = None, author: str = "",
             se: tuple[float | None, float | None, float | None] = (None, None, None)) -> Item:
    """A validated, not yet added Item (ValueError names the first problem)."""
    if not code or not str(code).strip():
        raise ValueError("item id must not be empty")
    if not stem or not stem.strip():
        raise ValueError("item stem must not be empty")
    validate_item_fields(options=options, key=key, model=model, a=a, b=b, c=c, status=status)
    if content_tag is not None and content_tag.materi_id != materi.id:
        raise ValueError(f"content tag {content_tag.code} belongs to another materi")
    return Item(program_id=program.id, materi_id=materi.id, code=str(code).strip(), stem=stem,
                options=list(options), key=key, model=model, a=a, b=b,
                c=c if c is not None else (None if a is None else 0.0), status=ItemStatus(status),
                content_tag_id=content_tag.id if content_tag else None, author=author,
                se_a=se[0], se_b=se[1], se_c=se[2])



@transactional
def create_service_token(session: Session, name: str) -> str:
    """A new bearer token for the certification service; returned once, stored hashed."""
    if not name or not name.strip():
        raise ValueError("token name must not be empty")
    token = new_token()
    session.add(ServiceToken(name=name.strip(), token_hash=hash_token(token)))
    return token


@transactional
def revoke_service_token(session: Session, *, token_id: int, actor: str) -> ServiceToken:
    """Revoke a certification service token, with an audit entry naming ``actor``.

    From this commit on the token is refused: the server looks a token up on every request
    and keeps no list of valid ones.  Revoking a revoked token changes nothing (a second
    click, or two administrators at once: the row is locked, so one entry is written).
    """
    token = lock_one(session, ServiceToken, token_id)
    if token is None:
        raise NotFound("service_token_not_found", token=token_id)
    if token.revoked_at is None:
        token.revoked_at = db_now(session)
        session.add(AuditLog(actor=actor, action="service_token_revoked",
                             subject=f"service_token:{token.name}"))
        session.flush()
    return token
