"""The administrator's edits of a program after its setup (routes of the ``admin`` blueprint):
edit a program and its settings, clone it for a new cohort, edit an exam, a materi or an
assignment, archive, bring back or delete a program or an exam.

Each handler reads the form, calls one function of :mod:`item_bank.admin_edit` and redirects
to the program page; a refused form is shown again with every error and what was typed
(:mod:`server.views.admin_forms`).  Whatever cannot be undone (a delete) is a POST from a
confirmation page; archiving is asked for on the same page and can be undone.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from item_bank import admin_edit
from server import bank
from server.extensions import db
from server.i18n import gettext
from server.security import access
from server.views.admin import _program_or_404, bp
from server.views.admin_forms import FormErrors, exam_form, exam_form_values, zone_label
from server.views.staff import form_int, staff_actor

# What the confirmation page of a program or an exam may be asked to do.
STATUS_ACTIONS = ("archive", "unarchive", "delete")


def _version(errors: FormErrors) -> int | None:
    return errors.read(form_int, "version", required=False)


def _to_program(program_id: int):
    return redirect(url_for("admin.program", program_id=program_id))


def _exam_or_404(program, exam_id: int):
    exam = db.session.get(bank.Exam, exam_id)
    if exam is None or exam.program_id != program.id:
        raise bank.NotFound("exam_not_found")
    return exam


def _settings_rows(program, typed) -> list[dict]:
    """The program-settings form's rows: each setting, what the form shows (typed, else the
    stored value), the default and the value in force."""
    stored = program.settings_json or {}
    in_force = program.settings
    return [{"name": name, "value": typed.get(name, stored.get(name, "")),
             "default": getattr(admin_edit.DEFAULTS, name), "in_force": getattr(in_force, name)}
            for name in admin_edit.EDITABLE_SETTINGS]


def _program_form(program, errors: FormErrors | None = None):
    typed = request.form if errors is not None else {
        "code": program.code, "name": program.name, "version": program.version}
    page = render_template("admin/program_edit.html", program=program, typed=typed,
                           errors=errors.messages if errors else [],
                           rows=_settings_rows(program, request.form if errors else {}),
                           zone=zone_label(program.settings.timezone))
    return page, (errors.status if errors else 200)


@bp.route("/programs/<int:program_id>/edit", methods=["GET", "POST"])
@access("admin")
def edit_program(program_id: int):
    """The program's code, name and settings (a blank setting: the default, shown)."""
    program = _program_or_404(program_id)
    if request.method == "GET":
        return _program_form(program)
    errors = FormErrors()
    version = _version(errors)
    if errors.save(admin_edit.edit_program, db.session, program.id, version=version,
                   code=request.form.get("code", ""), name=request.form.get("name", ""),
                   settings=request.form, actor=staff_actor()) is None:
        db.session.refresh(program)
        return _program_form(program, errors)
    flash(gettext("The program is saved."))
    return _to_program(program.id)


@bp.route("/programs/<int:program_id>/clone", methods=["GET", "POST"])
@access("admin")
def clone_program(program_id: int):
    """A copy of the program for a new cohort, under a new code."""
    program = _program_or_404(program_id)
    errors = FormErrors()
    if request.method == "POST":
        clone = errors.save(admin_edit.clone_program, db.session, program.id,
                            code=request.form.get("code", ""),
                            name=request.form.get("name", ""), actor=staff_actor())
        if clone is not None:
            flash(gettext("Program %(code)s is a copy of %(source)s: add its participants and "
                          "its items.", code=clone.code, source=program.code))
            return _to_program(clone.id)
    typed = request.form if request.method == "POST" else {"name": program.name}
    return render_template("admin/program_clone.html", program=program, typed=typed,
                           errors=errors.messages), (errors.status if errors.messages else 200)


def _status_page(program, exam, errors: FormErrors | None = None):
    if exam is None:
        attempts = admin_edit.program_attempts(db.session, program.id)
        running = 0
    else:
        attempts, running, _ = admin_edit.exam_attempts(db.session, exam.id)
    return render_template("admin/status.html", program=program, exam=exam,
                           attempts=attempts, running=running,
                           errors=errors.messages if errors else []), (
        errors.status if errors else 200)


def _action() -> str:
    action = request.form.get("action", "")
    if action not in STATUS_ACTIONS:
        raise bank.InvalidInput("invalid_input", detail=gettext(
            "Choose what to do: archive, bring back or delete."))
    return action


@bp.route("/programs/<int:program_id>/status", methods=["GET", "POST"])
@access("admin")
def program_status(program_id: int):
    """GET: what archiving or deleting the program means, and the buttons; POST does it."""
    program = _program_or_404(program_id)
    if request.method == "GET":
        return _status_page(program, None)
    action, errors = _action(), FormErrors()
    if action == "delete":
        code = errors.save(admin_edit.delete_program, db.session, program.id,
                           actor=staff_actor())
        if code is not None:
            flash(gettext("Program %(code)s is deleted.", code=code))
            return redirect(url_for("admin.index"))
    elif errors.save(admin_edit.archive_program, db.session, program.id, actor=staff_actor(),
                     archived=action == "archive") is not None:
        flash(gettext("Program %(code)s is archived.", code=program.code) if action == "archive"
              else gettext("Program %(code)s is in use again.", code=program.code))
        return _to_program(program.id)
    return _status_page(program, None, errors)


@bp.route("/programs/<int:program_id>/exams/<int:exam_id>/edit", methods=["GET", "POST"])
@access("admin")
def edit_exam(program_id: int, exam_id: int):
    """The exam form with the exam's values; what its attempts fix is refused with why."""
    program = _program_or_404(program_id)
    exam = _exam_or_404(program, exam_id)
    if request.method == "GET":
        return exam_form(program, exam)
    errors = FormErrors()
    version = _version(errors)
    values = exam_form_values(program, errors)
    if errors.save(admin_edit.edit_exam, db.session, program, exam.id, version=version,
                   actor=staff_actor(), **values) is None:
        db.session.refresh(exam)
        return exam_form(program, exam, errors)
    flash(gettext("Exam %(code)s is saved.", code=exam.code))
    return _to_program(program.id)


@bp.route("/programs/<int:program_id>/exams/<int:exam_id>/status", methods=["GET", "POST"])
@access("admin")
def exam_status(program_id: int, exam_id: int):
    """GET: what archiving or deleting the exam means, and the buttons; POST does it."""
    program = _program_or_404(program_id)
    exam = _exam_or_404(program, exam_id)
    if request.method == "GET":
        return _status_page(program, exam)
    action, errors = _action(), FormErrors()
    if action == "delete":
        done = errors.save(admin_edit.delete_exam, db.session, program, exam.id,
                           actor=staff_actor())
        message = gettext("Exam %(code)s is deleted.", code=exam.code)
    else:
        done = errors.save(admin_edit.archive_exam, db.session, program, exam.id,
                           actor=staff_actor(), archived=action == "archive")
        message = (gettext("Exam %(code)s is archived.", code=exam.code) if action == "archive"
                   else gettext("Exam %(code)s is in use again.", code=exam.code))
    if done is None:
        return _status_page(program, exam, errors)
    flash(message)
    return _to_program(program.id)


def _part_form(program, kind: str, row, errors: FormErrors | None = None):
    typed = request.form if errors is not None else {
        "code": row.code, "title": row.name if kind == "materi" else row.title}
    page = render_template("admin/part_edit.html", program=program, kind=kind, row=row,
                           typed=typed, errors=errors.messages if errors else [])
    return page, (errors.status if errors else 200)


def _part(program, kind: str, row_id: int):
    model = bank.Materi if kind == "materi" else bank.Assignment
    row = db.session.get(model, row_id)
    if row is None or row.program_id != program.id:
        raise (bank.NotFound("materi_not_found", materi=row_id) if kind == "materi"
               else bank.NotFound("assignment_not_found", assignment=row_id))
    return row


def _edit_part(program_id: int, kind: str, row_id: int):
    program = _program_or_404(program_id)
    row = _part(program, kind, row_id)
    if request.method == "GET":
        return _part_form(program, kind, row)
    errors = FormErrors()
    if request.form.get("action") == "delete":
        if request.form.get("confirm") != "yes":
            errors.messages.append(gettext("Tick the box to confirm the deletion."))
            return _part_form(program, kind, row, errors)
        change, args = ((admin_edit.delete_materi if kind == "materi"
                         else admin_edit.delete_assignment), {})
    else:
        change = admin_edit.edit_materi if kind == "materi" else admin_edit.edit_assignment
        text = request.form.get("title", "")
        args = {"code": request.form.get("code", ""),
                **({"name": text} if kind == "materi" else {"title": text})}
    if errors.save(change, db.session, program, row.id, actor=staff_actor(), **args) is None:
        return _part_form(program, kind, row, errors)
    flash(gettext("Saved."))
    return _to_program(program.id)


@bp.route("/programs/<int:program_id>/materi/<int:materi_id>/edit", methods=["GET", "POST"])
@access("admin")
def edit_materi(program_id: int, materi_id: int):
    """A materi's code and name; or, confirmed on this page, its deletion (none with exams
    or items)."""
    return _edit_part(program_id, "materi", materi_id)


@bp.route("/programs/<int:program_id>/assignments/<int:assignment_id>/edit",
          methods=["GET", "POST"])
@access("admin")
def edit_assignment(program_id: int, assignment_id: int):
    """An assignment's code and title; or, confirmed on this page, its deletion (none
    marked done for anybody)."""
    return _edit_part(program_id, "assignment", assignment_id)
