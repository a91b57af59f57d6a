"""Administrators: a program's roster with progress, assignment completions in bulk and their
undo, and the invigilator's actions on live attempts (extend the time, end).

The routes are the ``admin`` blueprint's (server.views.admin); the rules are item_bank's
(:mod:`item_bank.roster`, :mod:`item_bank.policy.invigilation`).
"""

from __future__ import annotations

import csv
import io

from flask import Response, flash, redirect, render_template, request, url_for

from item_bank import roster as ib_roster
from item_bank.messages import Notice
from item_bank.policy import invigilation
from server import bank
from server.extensions import db
from server.i18n import N_, gettext
from server.inputs import parse_int, upload_route
from server.policy_args import policy_now
from server.security import access
from server.views.admin import _program_or_404, bp
from server.views.staff import form_int, staff_actor, uploaded_text

COMPLETION_COLUMNS = ("nip", "assignment")
# What the confirmation form carries back: a completion file of some thousand lines.
COMPLETION_TEXT_MAX = 200_000


def _page_arg() -> int:
    raw = request.args.get("page", "").strip()
    return parse_int(raw, "page", low=1, high=1_000_000, status=400) if raw else 1


@bp.get("/programs/<int:program_id>/roster")
@access("admin")
def roster(program_id: int):
    """The program's participants (search by NIP or name, paged) with their progress."""
    program = _program_or_404(program_id)
    query = request.args.get("q", "")[:ib_roster.QUERY_MAX]
    page = ib_roster.roster_page(db.session, program_id=program.id, query=query,
                                 page=_page_arg(), now=policy_now())
    return render_template("admin/roster.html", program=program, roster=page, query=query)


@bp.get("/programs/<int:program_id>/roster.csv")
@access("admin")
def roster_export(program_id: int):
    """The roster with progress as CSV (UTF-8 with BOM for spreadsheets; no cell can start
    a formula)."""
    program = _program_or_404(program_id)
    table = ib_roster.roster_table(db.session, program_id=program.id,
                                   query=request.args.get("q", "")[:ib_roster.QUERY_MAX],
                                   now=policy_now())
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(table)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="roster-{program.code}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response


def _completion_rows(text: str) -> tuple[list[tuple[str, ...]], list[int]]:
    return bank.read_csv(text, COMPLETION_COLUMNS, ("nip",), headerless=True)


@bp.post("/programs/<int:program_id>/completions")
@upload_route
@access("admin")
def completions(program_id: int):
    """A completion file (a NIP per line, optionally ``,assignment code``; or a header
    ``nip[,assignment]``): without ``confirm`` a preview of what would be marked (nothing is
    stored); with ``confirm=yes`` and the previewed text, every line is marked or none.
    Every bad line is named on a 422 page."""
    program = _program_or_404(program_id)
    assignment_id = form_int("assignment_id", required=False, column=bank.Assignment.id)
    confirmed = request.form.get("confirm") == "yes"
    if confirmed:
        text = request.form.get("text", "")[:COMPLETION_TEXT_MAX + 1]
    else:
        text = uploaded_text("file", N_("Choose a CSV file (a NIP per line, optionally "
                                        "followed by the assignment code)."))
    context = {"program": program, "assignment_id": assignment_id, "text": text}
    try:
        if len(text) > COMPLETION_TEXT_MAX:
            raise ib_roster.CompletionRejected([(0, Notice("completion_too_long", {
                "max": COMPLETION_TEXT_MAX}))])
        try:
            rows, lines = _completion_rows(text)
        except bank.InvalidInput as exc:
            raise ib_roster.CompletionRejected([(0, exc.notice)]) from exc
        if confirmed:
            count = ib_roster.complete_assignments(
                db.session, program_id=program.id, rows=rows, lines=lines,
                assignment_id=assignment_id, actor=staff_actor())
            flash(gettext("%(count)s assignment completions marked.", count=count))
            return redirect(url_for("admin.roster", program_id=program.id))
        planned = ib_roster.plan_completions(db.session, program_id=program.id, rows=rows,
                                             lines=lines, assignment_id=assignment_id)
    except ib_roster.CompletionRejected as rejected:
        return render_template("admin/completions.html", problems=rejected.problems,
                               planned=[], **context), 422
    return render_template("admin/completions.html", problems=[], planned=planned, **context)


@bp.post("/programs/<int:program_id>/assignments/<int:assignment_id>/done/"
         "<int:participant_id>/undo")
@access("admin")
def undo_completion(program_id: int, assignment_id: int, participant_id: int):
    """Take back an assignment's completion (audited); marking it again redoes it."""
    program = _program_or_404(program_id)
    participant = ib_roster.undo_completion(db.session, program_id=program.id,
                                            assignment_id=assignment_id,
                                            participant_id=participant_id, actor=staff_actor())
    flash(gettext("The assignment is no longer marked done for %(nip)s.", nip=participant.nip))
    return redirect(url_for("admin.roster", program_id=program.id,
                            q=request.form.get("q", ""), page=request.form.get("page", "1")))


@bp.post("/attempts/<int:attempt_id>/extend")
@access("admin")
def extend_attempt(attempt_id: int):
    """Extend a running attempt's time by N minutes for a recorded reason; a refused form is
    the live page again (422) with the error at its row and what was typed."""
    raw = request.form.get("minutes", "").strip()
    reason = request.form.get("reason", "")
    try:
        if not raw.isdecimal() or len(raw) > 6:
            raise bank.InvalidInput("extension_minutes", minutes=raw[:20] or "-",
                                    left=invigilation.MAX_EXTENSION_MINUTES,
                                    max=invigilation.MAX_EXTENSION_MINUTES)
        minutes = int(raw)
        done = invigilation.extend_attempt(db.session, attempt_id=attempt_id, minutes=minutes,
                                           reason=reason, actor=staff_actor(),
                                           now=policy_now())
    except (bank.InvalidInput, bank.Conflict) as refusal:
        return _live_page(errors={attempt_id: refusal.notice},
                          typed={attempt_id: {"minutes": raw, "reason": reason}}), 422
    flash(gettext("Attempt %(attempt)s extended by %(minutes)s minutes (%(total)s in all).",
                  attempt=attempt_id, minutes=minutes, total=done.total_minutes))
    return redirect(url_for("admin.live"))


@bp.route("/attempts/<int:attempt_id>/end", methods=["GET", "POST"])
@access("admin")
def end_attempt(attempt_id: int):
    """GET asks to confirm; POST ends the attempt, graded as a finished attempt is."""
    if request.method == "GET":
        row = next((r for r in bank.live_attempts(db.session, policy_now())
                    if r["attempt_id"] == attempt_id), None)
        if row is None and db.session.get(bank.Attempt, attempt_id) is None:
            raise bank.NotFound("attempt_not_found")
        return render_template("admin/end_attempt.html", attempt_id=attempt_id, row=row)
    if invigilation.end_attempt(db.session, attempt_id=attempt_id, actor=staff_actor(),
                                now=policy_now()):
        flash(gettext("Attempt %(attempt)s is ended and graded.", attempt=attempt_id))
    else:
        flash(gettext("Attempt %(attempt)s had already ended.", attempt=attempt_id))
    return redirect(url_for("admin.live"))


@bp.get("/live")
@access("admin")
def live():
    """The running attempts of every program, refreshed every 30 s unless paused, with the
    invigilator's actions."""
    return _live_page()


def _live_page(errors: dict | None = None, typed: dict | None = None) -> str:
    return render_template("admin/live.html",
                           rows=bank.live_attempts(db.session, policy_now()),
                           paused=request.args.get("pause") == "1", errors=errors or {},
                           typed=typed or {},
                           max_minutes=invigilation.MAX_EXTENSION_MINUTES)
