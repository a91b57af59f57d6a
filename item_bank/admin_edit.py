"""The administrator's changes to a program after it was set up: edit, archive, delete, clone.

Each function is one transaction (:mod:`item_bank.tx`) and refuses with every reason at once
(:class:`~item_bank.errors.Refusals`), checked by the same functions as a new program or exam
(:func:`item_bank.admin.checked_code`, :func:`item_bank.admin.exam_problems`,
:meth:`ProgramSettings.problems`), so an edit can never store what a creation would refuse.

What may change once participants took an exam (docs/server.md "Administrators"):

- an exam's title, window, duration, attempt limit, number of items and SE target may change:
  they apply to the attempts that start afterwards (a running attempt keeps its deadline);
- its code, kind, materi and assembly may not once it has attempts (results and certificates
  name them, and the attempts were counted in their slot), nor its pass mark once a result
  was graded with it (a new one would change past pass or fail; likewise a program's default
  pass mark that graded results);
- a program's code may not change once it has attempts; its name and other settings may.

Two administrators editing the same program or exam: each form carries the ``version`` it was
made from, checked under the row's lock; a save from an older version is refused
(Conflict ``edited_meanwhile``) instead of overwriting the other one's change.

Archived (``archived_at``): kept with its attempts and results, hidden from participants (an
archived program is not listed or enrolled in; an archived exam is left out of the flow: it is
not shown, its gates and next steps ignore it, and it starts no attempt), shown as archived to
staff; archiving can be undone.  One without attempts may be deleted instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .admin import check_exam_fields, checked_code, exam_problems, program_by_id
from .db import db_now, lock_one
from .errors import Conflict, InvalidInput, NotFound, Refusals
from .messages import Notice
from .models import (
    Assembly,
    Assignment,
    AssignmentCompletion,
    Attempt,
    AttemptState,
    AuditLog,
    CalibrationJob,
    Certificate,
    ContentTag,
    Enrolment,
    Exam,
    ExamKind,
    ImportDraft,
    Item,
    ItemExposure,
    Materi,
    Program,
    ProgramLogo,
    ProgramSettings,
)
from .models.program import CERTIFICATE_TEXTS
from .pools import exam_pool
from .tx import transactional

# The settings of the program-settings form: all but the certificate's texts (their own form).
EDITABLE_SETTINGS = tuple(f.name for f in dataclass_fields(ProgramSettings)
                          if f.name not in CERTIFICATE_TEXTS)
DEFAULTS = ProgramSettings()
# The default pass marks, and the kind of exam each grades when the exam has no cut of its own.
PASS_MARKS = {"pre_assessment_certificate_score": ExamKind.PRE_ASSESSMENT,
              "materi_pass_score": ExamKind.MATERI, "ujikom_pass_score": ExamKind.UJIKOM}
# An exam's columns an edit may set besides code, kind, materi and assembly.
EXAM_FIELDS = ("title", "cut_score", "max_attempts", "duration_s", "waiting_period_s",
               "se_target", "min_items", "max_items", "window_opens_at", "window_closes_at")
# What an exam's attempts and results fix (see the module's docstring).
FIXED_BY_ATTEMPTS = ("code", "kind", "materi_id", "assembly")


def _refuse(problems: list[Notice]) -> None:
    if problems:
        raise Refusals(problems)


def _check_version(row: Program | Exam, version: int | None, subject: str) -> None:
    if version != row.version:
        raise Conflict("edited_meanwhile", subject=subject)


def _audit(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, subject=subject, details=details))


def _count(session: Session, *where: Any) -> int:
    return int(session.scalar(select(func.count(Attempt.id)).where(*where)) or 0)


def program_attempts(session: Session, program_id: int) -> int:
    return _count(session, Attempt.program_id == program_id)


def exam_attempts(session: Session, exam_id: int) -> tuple[int, int, int]:
    """(attempts, running ones, finished ones) of the exam."""
    total = _count(session, Attempt.exam_id == exam_id)
    running = _count(session, Attempt.exam_id == exam_id, Attempt.state == AttemptState.STARTED)
    return total, running, total - running


def _locked_program(session: Session, program_id: int) -> Program:
    program = lock_one(session, Program, program_id)
    if program is None:
        raise NotFound("program_not_found")
    return program


def _locked_exam(session: Session, program: Program, exam_id: int) -> Exam:
    exam = lock_one(session, Exam, exam_id)
    if exam is None or exam.program_id != program.id:
        raise NotFound("exam_not_found")
    return exam


# --------------------------------------------------------------------------- settings


def settings_from_form(raw: Mapping[str, str]) -> tuple[dict[str, Any], list[Notice]]:
    """The settings of :data:`EDITABLE_SETTINGS` typed into a form, as stored (a blank field
    is the default: left out) and the problems of the values that are not numbers."""
    values: dict[str, Any] = {}
    problems: list[Notice] = []
    for name in EDITABLE_SETTINGS:
        text = str(raw.get(name, "") or "").strip()
        if not text:
            continue
        kind = type(getattr(DEFAULTS, name))
        if kind is str:
            values[name] = text
            continue
        try:
            number = float(text)
        except ValueError:
            problems.append(Notice("setting_not_number", {"field": name, "value": text}))
            continue
        if kind is int:
            if number != int(number):
                problems.append(Notice("setting_not_whole", {"field": name, "value": text}))
                continue
            number = int(number)
        values[name] = number
    return values, problems


def _settings_problems(session: Session, program: Program, new: ProgramSettings) -> list[Notice]:
    """Why the program may not take the settings ``new``: out of range, a default pass mark
    that graded results, or exams of one slot that would no longer agree."""
    problems = new.problems()
    old = program.settings
    for name, kind in PASS_MARKS.items():
        if getattr(new, name) == getattr(old, name):
            continue
        graded = int(session.scalar(
            select(func.count(Attempt.id)).join(Exam, Exam.id == Attempt.exam_id)
            .where(Exam.program_id == program.id, Exam.kind == kind, Exam.cut_score.is_(None),
                   Attempt.state != AttemptState.STARTED)) or 0)
        if graded:
            problems.append(Notice("setting_locked_by_results", {"field": name,
                                                                 "count": graded}))
    if problems:
        return problems
    for exam in session.scalars(select(Exam).where(Exam.program_id == program.id,
                                                   Exam.archived_at.is_(None))
                                .order_by(Exam.id)):
        problems += [p for p in exam_problems(
            session, program, code=exam.code, kind=exam.kind, materi=exam.materi,
            fields=_exam_values(exam), exam_id=exam.id, settings=new)
            if p not in problems]
    return problems


# --------------------------------------------------------------------------- programs


@transactional
def edit_program(session: Session, program_id: int, *, version: int | None, code: str,
                 name: str, settings: Mapping[str, str], actor: str) -> Program:
    """Set the program's code, name and settings (the form's text, a blank one the default);
    the certificate's texts are kept."""
    program = _locked_program(session, program_id)
    _check_version(program, version, program.code)
    problems: list[Notice] = []
    try:
        code = checked_code(code)
    except InvalidInput as refusal:
        problems.append(refusal.notice)
    if code != program.code:
        attempts = program_attempts(session, program.id)
        if attempts:
            problems.append(Notice("field_locked", {"field": "code", "count": attempts}))
        elif session.scalar(select(Program.id).where(Program.code == code)) is not None:
            problems.append(Notice("code_taken", {"code": code}))
    name = (name or "").strip()
    if not name:
        problems.append(Notice("title_required"))
    values, typed = settings_from_form(settings)
    problems += typed
    stored = {k: v for k, v in (program.settings_json or {}).items() if k in CERTIFICATE_TEXTS}
    stored |= values
    if not typed:  # typed values: ranges are checked (every one) by the problems below
        problems += _settings_problems(session, program, ProgramSettings(**stored))
    _refuse(problems)
    changed = {"code": code, "name": name, "settings": values}
    program.code, program.name, program.settings_json = code, name, stored
    program.version += 1
    _audit(session, actor, "program_edited", f"program:{code}", **changed)
    session.flush()
    return program


@transactional
def archive_program(session: Session, program_id: int, *, actor: str,
                    archived: bool = True) -> Program:
    """Archive the program (or, with ``archived=False``, bring it back); a second click
    changes nothing."""
    program = _locked_program(session, program_id)
    if (program.archived_at is not None) != archived:
        program.archived_at = db_now(session) if archived else None
        program.version += 1
        _audit(session, actor, "program_archived" if archived else "program_unarchived",
               f"program:{program.code}")
        session.flush()
    return program


@transactional
def delete_program(session: Session, program_id: int, *, actor: str) -> str:
    """Delete a program that nobody took an exam of and that holds no items, with its
    materi, exams, assignments, enrolments and logo; returns its code.  One with attempts
    or items is refused: it can be archived."""
    program = _locked_program(session, program_id)
    attempts = program_attempts(session, program.id)
    items = int(session.scalar(select(func.count(Item.id)).where(
        Item.program_id == program.id)) or 0)
    problems = []
    if attempts or session.scalar(select(Certificate.id).where(
            Certificate.program_id == program.id).limit(1)) is not None:
        problems.append(Notice("program_has_attempts", {"program": program.code,
                                                        "count": attempts}))
    if items:
        problems.append(Notice("program_has_items", {"program": program.code, "count": items}))
    _refuse(problems)
    assignments = select(Assignment.id).where(Assignment.program_id == program.id)
    materi = select(Materi.id).where(Materi.program_id == program.id)
    exams = select(Exam.id).where(Exam.program_id == program.id)
    for statement in (
            delete(AssignmentCompletion).where(AssignmentCompletion.assignment_id.in_(
                assignments)),
            delete(Assignment).where(Assignment.program_id == program.id),
            delete(ItemExposure).where(ItemExposure.exam_id.in_(exams)),
            delete(Exam).where(Exam.program_id == program.id),
            delete(CalibrationJob).where(CalibrationJob.program_id == program.id),
            delete(ImportDraft).where(ImportDraft.program_id == program.id),
            delete(ContentTag).where(ContentTag.materi_id.in_(materi)),
            delete(Materi).where(Materi.program_id == program.id),
            delete(Enrolment).where(Enrolment.program_id == program.id),
            delete(ProgramLogo).where(ProgramLogo.program_id == program.id)):
        session.execute(statement.execution_options(synchronize_session=False))
    code = program.code
    session.delete(program)
    _audit(session, actor, "program_deleted", f"program:{code}")
    session.flush()
    return code


@transactional
def clone_program(session: Session, program_id: int, *, code: str, name: str,
                  actor: str) -> Program:
    """A new program for a new cohort, made from ``program_id``: its settings (with the
    certificate's texts) and logo, materi with their content tags, exams in use with their
    settings, and assignments; no participants, attempts, results or items.  ``code`` is
    checked like a new program's."""
    source = program_by_id(session, program_id)
    problems = []
    try:
        code = checked_code(code)
    except InvalidInput as refusal:
        problems.append(refusal.notice)
    else:
        if session.scalar(select(Program.id).where(Program.code == code)) is not None:
            problems.append(Notice("code_taken", {"code": code}))
    name = (name or "").strip()
    if not name:
        problems.append(Notice("title_required"))
    _refuse(problems)
    clone = Program(code=code, name=name, is_open=source.is_open,
                    settings_json=dict(source.settings_json or {}))
    session.add(clone)
    session.flush()
    logo = session.get(ProgramLogo, source.id)
    if logo is not None:
        session.add(ProgramLogo(program_id=clone.id, media_type=logo.media_type, data=logo.data,
                                uploaded_at=db_now(session)))
    materi_ids: dict[int, int] = {}
    for materi in session.scalars(select(Materi).where(Materi.program_id == source.id)
                                  .order_by(Materi.id)).all():
        copy = Materi(program_id=clone.id, code=materi.code, name=materi.name)
        session.add(copy)
        session.flush()
        materi_ids[materi.id] = copy.id
        session.add_all(ContentTag(materi_id=copy.id, code=t.code, name=t.name)
                        for t in materi.content_tags)
    for exam in session.scalars(select(Exam).where(Exam.program_id == source.id,
                                                   Exam.archived_at.is_(None))
                                .order_by(Exam.id)).all():
        session.add(Exam(program_id=clone.id, code=exam.code, kind=exam.kind,
                         assembly=exam.assembly, expected_cohort=exam.expected_cohort,
                         materi_id=materi_ids.get(exam.materi_id) if exam.materi_id else None,
                         **_exam_values(exam)))
    session.add_all(Assignment(program_id=clone.id, code=a.code, title=a.title)
                    for a in session.scalars(select(Assignment).where(
                        Assignment.program_id == source.id).order_by(Assignment.id)))
    _audit(session, actor, "program_cloned", f"program:{code}", source=source.code)
    session.flush()
    return clone


# --------------------------------------------------------------------------- exams


def _exam_values(exam: Exam) -> dict[str, Any]:
    return {name: getattr(exam, name) for name in EXAM_FIELDS}


@transactional
def edit_exam(session: Session, program: Program, exam_id: int, *, version: int | None,
              code: str, kind: ExamKind | str, materi: Materi | None,
              assembly: Assembly | str, actor: str, **fields: Any) -> Exam:
    """Set an exam's code, kind, materi, assembly and ``fields`` (:data:`EXAM_FIELDS`),
    checked like a new exam's; what its attempts and results fix is refused (see the
    module's docstring)."""
    check_exam_fields(fields)
    exam = _locked_exam(session, program, exam_id)
    _check_version(exam, version, exam.code)
    kind, assembly = ExamKind(kind), Assembly(assembly)
    problems = exam_problems(session, program, code=code, kind=kind, materi=materi,
                             fields=fields, exam_id=exam.id)
    attempts, running, finished = exam_attempts(session, exam.id)
    new = {"code": (code or "").strip(), "kind": kind, "assembly": assembly,
           "materi_id": materi.id if materi else None}
    # RULE: docs/item_bank.md "Cold start" — LOFT to CAT stays open after attempts: once a
    # calibration has replaced every provisional parameter of the exam's pool and no attempt
    # of it is running, the exam switches to CAT (its cut, on the same 0-100 domain score,
    # carries over).
    switch = bool(attempts) and exam.assembly == Assembly.LOFT and assembly == Assembly.CAT
    if attempts:
        problems += [Notice("field_locked", {"field": name, "count": attempts})
                     for name in FIXED_BY_ATTEMPTS if new[name] != getattr(exam, name)
                     and not (name == "assembly" and switch)]
    if switch:
        pool = exam_pool(session, exam)
        if pool is None or pool.cold:
            problems.append(Notice("exam_bank_not_calibrated", {"exam": exam.code}))
        if running:
            problems.append(Notice("exam_attempts_running", {"count": running}))
    if finished and fields.get("cut_score") != exam.cut_score:
        problems.append(Notice("cut_score_locked", {"count": finished}))
    _refuse(problems)
    for name, value in (new | fields).items():
        setattr(exam, name, value)
    exam.version += 1
    _audit(session, actor, "exam_edited", f"exam:{program.code}/{exam.code}",
           **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in fields.items()})
    session.flush()
    return exam


@transactional
def archive_exam(session: Session, program: Program, exam_id: int, *, actor: str,
                 archived: bool = True) -> Exam:
    """Archive the exam, or with ``archived=False`` bring it back into the flow (checked like
    a new exam against the exams in use: no second pre-assessment, one slot's exams agree).
    Refused while attempts of it are running; a second click changes nothing."""
    exam = _locked_exam(session, program, exam_id)
    if (exam.archived_at is not None) == archived:
        return exam
    if archived:
        running = exam_attempts(session, exam.id)[1]
        if running:
            raise InvalidInput("exam_attempts_running", count=running)
    else:
        _refuse(exam_problems(session, program, code=exam.code, kind=exam.kind,
                              materi=exam.materi, fields=_exam_values(exam), exam_id=exam.id))
    exam.archived_at = db_now(session) if archived else None
    exam.version += 1
    _audit(session, actor, "exam_archived" if archived else "exam_unarchived",
           f"exam:{program.code}/{exam.code}")
    session.flush()
    return exam


@transactional
def delete_exam(session: Session, program: Program, exam_id: int, *, actor: str) -> str:
    """Delete an exam nobody took; returns its code.  One with attempts is refused: it can be
    archived."""
    exam = _locked_exam(session, program, exam_id)
    attempts = exam_attempts(session, exam.id)[0]
    if attempts:
        raise InvalidInput("exam_has_attempts", exam=exam.code, count=attempts)
    session.execute(delete(ItemExposure).where(ItemExposure.exam_id == exam.id))
    code = exam.code
    session.delete(exam)
    _audit(session, actor, "exam_deleted", f"exam:{program.code}/{code}")
    session.flush()
    return code


# --------------------------------------------------------------------------- materi, tugas


def _materi(session: Session, program: Program, materi_id: int) -> Materi:
    materi = session.get(Materi, materi_id)
    if materi is None or materi.program_id != program.id:
        raise NotFound("materi_not_found", materi=materi_id)
    return materi


def _assignment(session: Session, program: Program, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.program_id != program.id:
        raise NotFound("assignment_not_found", assignment=assignment_id)
    return assignment


def _code_and_title(session: Session, model: type, program: Program, row_id: int, code: str,
                    title: str) -> tuple[str, str, list[Notice]]:
    problems: list[Notice] = []
    try:
        code = checked_code(code)
    except InvalidInput as refusal:
        problems.append(refusal.notice)
    if session.scalar(select(model.id).where(model.program_id == program.id, model.code == code,
                                             model.id != row_id)) is not None:
        problems.append(Notice("code_taken", {"code": code}))
    title = (title or "").strip()
    if not title:
        problems.append(Notice("title_required"))
    return code, title, problems


@transactional
def edit_materi(session: Session, program: Program, materi_id: int, *, code: str, name: str,
                actor: str) -> Materi:
    """Rename a materi (its exams and items follow: they refer to it by id)."""
    materi = _materi(session, program, materi_id)
    code, name, problems = _code_and_title(session, Materi, program, materi.id, code, name)
    _refuse(problems)
    materi.code, materi.name = code, name
    _audit(session, actor, "materi_edited", f"program:{program.code}", materi=code, name=name)
    session.flush()
    return materi


@transactional
def delete_materi(session: Session, program: Program, materi_id: int, *, actor: str) -> str:
    """Delete a materi that has no exam (archived ones count) and no item."""
    materi = _materi(session, program, materi_id)
    used = sum(int(session.scalar(select(func.count(model.id)).where(
        model.materi_id == materi.id)) or 0) for model in (Exam, Item))
    if used:
        raise InvalidInput("materi_in_use", materi=materi.code, count=used)
    for model in (ContentTag, ImportDraft, CalibrationJob):
        session.execute(delete(model).where(model.materi_id == materi.id))
    code = materi.code
    session.delete(materi)
    _audit(session, actor, "materi_deleted", f"program:{program.code}", materi=code)
    session.flush()
    return code


@transactional
def edit_assignment(session: Session, program: Program, assignment_id: int, *, code: str,
                    title: str, actor: str) -> Assignment:
    assignment = _assignment(session, program, assignment_id)
    code, title, problems = _code_and_title(session, Assignment, program, assignment.id, code,
                                            title)
    _refuse(problems)
    assignment.code, assignment.title = code, title
    _audit(session, actor, "assignment_edited", f"program:{program.code}", assignment=code,
           title=title)
    session.flush()
    return assignment


@transactional
def delete_assignment(session: Session, program: Program, assignment_id: int, *,
                      actor: str) -> str:
    """Delete an assignment nobody was marked done for."""
    assignment = _assignment(session, program, assignment_id)
    done = int(session.scalar(select(func.count(AssignmentCompletion.id)).where(
        AssignmentCompletion.assignment_id == assignment.id)) or 0)
    if done:
        raise InvalidInput("assignment_in_use", assignment=assignment.code, count=done)
    code = assignment.code
    session.delete(assignment)
    _audit(session, actor, "assignment_deleted", f"program:{program.code}", assignment=code)
    session.flush()
    return code
