"""Administrators: programs, materi, exams, rosters, assignments, live attempts, tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from item_bank import admin as ib_admin
from server import bank
from server.extensions import db
from server.i18n import N_, gettext
from server.inputs import upload_route
from server.security import access
from server.views import logo_response
from server.views.admin_forms import FormErrors, exam_form, exam_form_values, zone_label
from server.views.staff import (
    form_text,
    saving,
    staff_actor,
    uploaded_text,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@access("admin")
def index():
    return _index_page()


def _index_page(errors: FormErrors | None = None):
    programs = db.session.scalars(select(bank.Program).order_by(bank.Program.id)).all()
    page = render_template("admin/index.html", programs=programs,
                           errors=errors.messages if errors else [],
                           typed=request.form if errors else {})
    return page, (errors.status if errors else 200)


@bp.post("/programs")
@access("admin")
def create_program():
    """A new program; refused, the programs page again with every error and what was typed."""
    errors = FormErrors()
    code, name = errors.read(form_text, "code"), errors.read(form_text, "name")
    program = errors.save(ib_admin.create_program, db.session, code=code, name=name)
    if program is None:
        return _index_page(errors)
    return redirect(url_for("admin.program", program_id=program.id))


def _program_or_404(program_id: int):
    return ib_admin.program_by_id(db.session, program_id)


@bp.get("/programs/<int:program_id>")
@access("admin")
def program(program_id: int):
    return _program_page(_program_or_404(program_id))


def _program_page(program, refused: str = "", errors: FormErrors | None = None):
    """The program page; ``refused`` names the form of this page (``materi``,
    ``assignment``) shown again with ``errors`` and what was typed."""
    page = render_template("admin/program.html", program=program, settings=program.settings,
                           zone=zone_label(program.settings.timezone),
                           has_logo=bank.program_logo(db.session, program.id) is not None,
                           refused=refused, errors=errors.messages if errors else [],
                           typed=request.form if errors else {},
                           **bank.program_overview(db.session, program.id))
    return page, (errors.status if errors else 200)


@bp.post("/programs/<int:program_id>/certificate")
@access("admin")
def certificate(program_id: int):
    """The certificate form: agency name, signature block and (when a file is chosen) the
    logo, saved together or not at all; a refused text or logo is a 422 page naming it and
    leaves what was stored as it was."""
    program = _program_or_404(program_id)
    upload = request.files.get("logo")
    logo = upload.read() if upload is not None and upload.filename else None
    ib_admin.set_certificate(
        db.session, program, agency_name=request.form.get("agency_name", ""),
        signatory=request.form.get("signatory", ""),
        signatory_title=request.form.get("signatory_title", ""),
        place=request.form.get("place", ""), logo=logo,
        remove_logo=request.form.get("remove_logo") == "yes", actor=staff_actor())
    flash(gettext("The certificate's details are saved."))
    return redirect(url_for("admin.program", program_id=program.id))


@bp.get("/programs/<int:program_id>/logo.png")
@access("admin")
def program_logo(program_id: int):
    """The program's certificate logo as stored (the re-encoded PNG); 404 without one."""
    return logo_response(_program_or_404(program_id).id)


@bp.post("/programs/<int:program_id>/materi")
@access("admin")
def create_materi(program_id: int):
    return _create_part(program_id, "materi", ib_admin.add_materi, "name")


def _create_part(program_id: int, form: str, add, text: str):
    """A new materi or assignment (``add`` with the form's code and ``text`` field); refused,
    the program page again with every error above that form and what was typed."""
    program = _program_or_404(program_id)
    errors = FormErrors()
    values = {"code": errors.read(form_text, "code"),
              text: errors.read(form_text, "name" if text == "name" else "title")}
    if errors.save(add, db.session, program, **values) is None:
        return _program_page(program, refused=form, errors=errors)
    return redirect(url_for("admin.program", program_id=program.id))


@bp.post("/programs/<int:program_id>/exams")
@access("admin")
def create_exam(program_id: int):
    """A new exam; refused, the exam form again with every error and what was typed."""
    program = _program_or_404(program_id)
    errors = FormErrors()
    values = exam_form_values(program, errors)
    if errors.save(ib_admin.add_exam, db.session, program, **values) is None:
        return exam_form(program, None, errors)
    return redirect(url_for("admin.program", program_id=program.id))


@bp.post("/programs/<int:program_id>/assignments")
@access("admin")
def create_assignment(program_id: int):
    return _create_part(program_id, "assignment", ib_admin.add_assignment, "title")


@bp.post("/programs/<int:program_id>/roster")
@upload_route
@access("admin")
def import_roster(program_id: int):
    """CSV with a header nip,name[,unit][,password]: enrols every row, or none if one is bad."""
    program = _program_or_404(program_id)
    text = uploaded_text("file", N_("Choose a CSV file (nip,name,unit,password)."))
    count = saving(bank.import_roster, db.session, program.id, text)
    flash(gettext("%(count)s participants enrolled.", count=count))
    return redirect(url_for("admin.program", program_id=program.id))


@bp.post("/programs/<int:program_id>/assignments/<int:assignment_id>/done")
@access("admin")
def mark_done(program_id: int, assignment_id: int):
    program = _program_or_404(program_id)
    nip = form_text("nip")
    saving(bank.mark_assignment_done, db.session, program_id=program.id,
           assignment_id=assignment_id, nip=nip, marked_by=staff_actor())
    flash(gettext("Assignment marked done for %(nip)s.", nip=nip))
    return redirect(url_for("admin.program", program_id=program.id))


# What each scope of a service token allows, as the token form says it.
SCOPE_LABELS = {
    "certificates:read": N_("pull certificates (certification service)"),
    "admin:read": N_("read programs, materi, exams, assignments and results (LMS)"),
    "admin:write": N_("enrol participants and mark assignments done (LMS)"),
}


@bp.route("/tokens", methods=["GET", "POST"])
@access("admin")
def tokens():
    """The tokens and the form for a new one; a refused form comes back (422) with every
    problem and what was typed."""
    created, problems = None, []
    if request.method == "POST":
        try:
            created = saving(ib_admin.create_service_token, db.session,
                             request.form.get("name", ""), scopes=request.form.getlist("scope"))
        except bank.InvalidInput as refused:
            if refused.code != "token_refused":
                raise
            problems = refused.params["problems"]
    rows = db.session.scalars(select(bank.ServiceToken).order_by(bank.ServiceToken.id)).all()
    used = dict(db.session.execute(select(bank.ServiceTokenUse.token_id,
                                          bank.ServiceTokenUse.last_used_at)).all())
    # Tokens belong to no program: their times are written in the default program zone.
    page = render_template("admin/tokens.html", tokens=rows, created=created, used=used,
                           zone=bank.ProgramSettings().timezone, scope_labels=SCOPE_LABELS,
                           problems=problems, typed=request.form if problems else None)
    return page, 422 if problems else 200


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@access("admin")
def revoke_token(token_id: int):
    """GET asks to confirm; the POST of that page (with its CSRF token) revokes the token."""
    if request.method == "GET":
        token = db.session.get(bank.ServiceToken, token_id)
        if token is None:
            raise bank.NotFound("service_token_not_found", token=token_id)
        return render_template("admin/revoke_token.html", token=token,
                               zone=bank.ProgramSettings().timezone)
    token = bank.revoke_service_token(db.session, token_id=token_id, actor=staff_actor())
    flash(gettext("Token %(name)s is revoked: the certification API refuses it from now on.",
                  name=token.name))
    return redirect(url_for("admin.tokens"))


@bp.route("/programs/<int:program_id>/participants/<int:participant_id>/end-sessions",
          methods=["GET", "POST"])
@access("admin")
def end_sessions(program_id: int, participant_id: int):
    """Log a participant out everywhere (a lost or shared device): GET asks to confirm,
    POST does it, with an audit entry by this administrator."""
    program = _program_or_404(program_id)
    if request.method == "GET":
        return render_template("admin/end_sessions.html", program=program,
                               participant=bank.get_participant(db.session, participant_id))
    participant = bank.accounts.end_participant_sessions(
        db.session, participant_id=participant_id, actor=staff_actor())
    flash(gettext("Every session of %(name)s (NIP %(nip)s) has ended.",
                  name=participant.name, nip=participant.nip))
    return redirect(url_for("admin.program", program_id=program.id))
