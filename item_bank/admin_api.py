"""What other systems read through the administration API (``/api/v1/admin``).

An LMS or the agency's personnel system reads programs with their materi, exams and
assignments, and pulls the results of finished attempts; enrolling a roster and marking
assignments done are :func:`item_bank.admin.bulk_enrol` and
:func:`item_bank.admin.mark_assignments_done`, the same rules as the administrator's pages.

Records are plain JSON-ready dicts.  Times are aware datetimes in the program's time zone
(written with its offset, ``2026-12-03T09:15:00+07:00``); exam numbers are the values in
force (an exam's own or the program's setting, :func:`item_bank.policy.exam_rules`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .admin import program_by_id
from .errors import NotFound
from .models import (
    Assignment,
    Attempt,
    AttemptState,
    Certificate,
    Exam,
    ExamKind,
    Materi,
    Participant,
    Program,
)
from .policy import exam_rules
from .policy.facts import EXAM_COLUMNS, exam_facts
from .policy.rules import BELUM_KOMPETEN, KOMPETEN


def _local(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    return None if value is None else value.astimezone(zone)


def _program_summary(program: Program) -> dict[str, Any]:
    return {"id": program.id, "code": program.code, "name": program.name,
            "open": program.is_open, "timezone": program.settings.timezone}


def programs(session: Session) -> list[dict[str, Any]]:
    """Every program, oldest first: id, code, name, open for enrolment, time zone."""
    return [_program_summary(p) for p in session.scalars(select(Program).order_by(Program.id))]


def _materi(materi: Materi) -> dict[str, Any]:
    return {"id": materi.id, "code": materi.code, "name": materi.name}


def materi_list(session: Session, program_id: int) -> list[dict[str, Any]]:
    """The program's materi (NotFound for an unknown program)."""
    program_by_id(session, program_id)
    return [_materi(m) for m in session.scalars(
        select(Materi).where(Materi.program_id == program_id).order_by(Materi.id))]


def _exam(exam: Exam, program: Program, materi_codes: dict[int, str]) -> dict[str, Any]:
    materi_code = materi_codes.get(exam.materi_id) if exam.materi_id is not None else None
    settings = program.settings
    rules = exam_rules(exam_facts([getattr(exam, c) for c in EXAM_COLUMNS], materi_code),
                       settings)
    zone = settings.zone()
    return {"id": exam.id, "code": exam.code, "title": exam.title or exam.code,
            "kind": exam.kind.value, "materi_id": exam.materi_id, "materi_code": materi_code,
            "assembly": exam.assembly.value, "cut_score": rules.cut_score,
            "max_attempts": rules.max_attempts, "duration_s": rules.duration_s,
            "min_items": rules.min_items, "max_items": rules.max_items,
            "window_opens_at": _local(exam.window_opens_at, zone),
            "window_closes_at": _local(exam.window_closes_at, zone)}


def _materi_codes(session: Session, program_id: int) -> dict[int, str]:
    return dict(session.execute(select(Materi.id, Materi.code)
                                .where(Materi.program_id == program_id)).all())


def exam_list(session: Session, program_id: int) -> list[dict[str, Any]]:
    """The program's exams with the numbers in force (NotFound for an unknown program)."""
    program = program_by_id(session, program_id)
    codes = _materi_codes(session, program_id)
    return [_exam(e, program, codes) for e in session.scalars(
        select(Exam).where(Exam.program_id == program_id).order_by(Exam.id))]


def exam_record(session: Session, program_id: int, exam_id: int) -> dict[str, Any]:
    """One exam of the program; NotFound ``exam_not_found`` for an exam of another program
    as for none."""
    program = program_by_id(session, program_id)
    exam = session.get(Exam, exam_id)
    if exam is None or exam.program_id != program.id:
        raise NotFound("exam_not_found")
    return _exam(exam, program, _materi_codes(session, program_id))


def program_record(session: Session, program_id: int) -> dict[str, Any]:
    """The program with its materi, exams and assignments."""
    program = program_by_id(session, program_id)
    assignments = session.scalars(select(Assignment).where(
        Assignment.program_id == program_id).order_by(Assignment.id))
    return {**_program_summary(program), "materi": materi_list(session, program_id),
            "exams": exam_list(session, program_id),
            "assignments": [{"id": a.id, "code": a.code, "title": a.title}
                            for a in assignments]}


def results_page(session: Session, *, program_id: int, after: dt.datetime | None,
                 until: dt.datetime, offset: int, limit: int) -> tuple[list[dict], int]:
    """The program's finished attempts (submitted or expired) with ``after < finished_at <=
    until``, in the order they finished (then by id), ``limit`` from ``offset``; and how
    many there are in all.  A finished attempt never changes, so a result is sent once
    to a client that moves ``after`` to the ``until`` of its last complete pull.

    Each: attempt id, NIP, name, exam (id, code, kind), attempt number (per participant and
    exam slot), state, score (0-100, two decimals), passed, category (ujikom: kompeten /
    belum kompeten), finished_at in the program's zone, the certificate number it earned.
    """
    program = program_by_id(session, program_id)
    zone = program.settings.zone()
    where = [Attempt.program_id == program_id, Attempt.state != AttemptState.STARTED,
             Attempt.finished_at <= until]
    if after is not None:
        where.append(Attempt.finished_at > after)
    total = session.scalar(select(func.count(Attempt.id)).where(*where)) or 0
    rows = session.execute(
        select(Attempt, Participant.nip, Participant.name, Exam.code, Exam.kind,
               Certificate.number)
        .join(Participant, Participant.id == Attempt.participant_id)
        .join(Exam, Exam.id == Attempt.exam_id)
        .outerjoin(Certificate, Certificate.attempt_id == Attempt.id)
        .where(*where).order_by(Attempt.finished_at, Attempt.id)
        .offset(offset).limit(limit)).all()
    results = []
    for attempt, nip, name, exam_code, kind, number in rows:
        category = None
        if kind == ExamKind.UJIKOM:
            category = KOMPETEN if attempt.passed else BELUM_KOMPETEN
        results.append({
            "attempt_id": attempt.id, "nip": nip, "name": name, "exam_id": attempt.exam_id,
            "exam_code": exam_code, "exam_kind": kind.value, "attempt_number": attempt.number,
            "state": attempt.state.value,
            "score": None if attempt.score is None else round(attempt.score, 2),
            "passed": attempt.passed, "category": category,
            "finished_at": _local(attempt.finished_at, zone), "certificate_number": number})
    return results, total
