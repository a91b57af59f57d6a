"""Participant pages: login, programs and status, the exam page, results, certificates."""

from __future__ import annotations

import base64
import re
import struct

from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from item_bank.messages import MESSAGES
from server import bank, certificate_pdf
from server.auth import login_participant
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_, gettext
from server.policy_args import participant_args
from server.security import access, log_out, safe_next, start_session
from server.views import logo_response, picture_response

bp = Blueprint("participant", __name__)

# The ujikom categories of a result, shown translated (``_(result.category)`` in templates).
CATEGORIES = (N_("kompeten"), N_("belum kompeten"))
# Why an attempt ended (its stop_reason), as the result page and the history say it.
STOP_REASONS = {
    "classified": N_("Your answers decided the result: it is clearly above or below the pass "
                     "mark."),
    "se": N_("Your score was measured precisely enough."),
    "max_items": N_("All questions of the exam were answered."),
    "time": N_("The time ran out."),
    "bank": N_("No further question was available for you."),
    "submitted": N_("You finished the exam yourself."),
    "ended": N_("The invigilator ended the exam."),
}


@bp.get("/")
@access("anonymous")
def home():
    if session.get("participant_id") is None:
        if session.get("staff_role") == "admin":
            return redirect(url_for("admin.index"))
        if session.get("staff_role") == "writer":
            return redirect(url_for("writer.items"))
        return redirect(url_for("participant.login"))
    return redirect(url_for("participant.programs"))


@bp.route("/login", methods=["GET", "POST"])
@access("anonymous")
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            participant = login_participant(request.form.get("nip", ""),
                                            request.form.get("password", ""))
        except BadInput as exc:
            error, status = exc.text(), exc.status
        else:
            start_session(participant.session_version, participant_id=participant.id)
            return redirect(safe_next(request.form.get("next"), url_for("participant.programs")))
    return render_template("login.html", audience="participant", error=error,
                           next=request.args.get("next", "")), status


@bp.post("/logout")
@access("anonymous")
def logout():
    log_out()
    return redirect(url_for("participant.login"))


@bp.get("/programs")
@access("participant")
def programs():
    participant = bank.get_participant(db.session, session["participant_id"])
    statuses = bank.participant_programs(db.session, **participant_args())
    return render_template("participant/programs.html", participant=participant,
                           statuses=statuses, stop_reasons=STOP_REASONS)


def _exam_status(exam_id: int):
    """(program status, exam status) of one of the participant's exams; "not found" for any
    other, as the policy says it."""
    for status in bank.participant_programs(db.session, **participant_args()):
        for exam in status.exams:
            if exam.exam_id == exam_id:
                return status, exam
    raise bank.NotFound("exam_not_found")


def _once_only(exam) -> bool:
    # A page's safeguard, not a rule of the policy (the API's clients are programs): an exam
    # of one attempt (SPEC.md flow 1, the pre-assessment) starts from the page only after the
    # participant confirmed that it cannot be taken again.  A locked one is refused by the
    # policy with its reason, confirmed or not.
    return exam.max_attempts == 1 and exam.running_attempt_id is None and exam.available


@bp.get("/exams/<int:exam_id>/rules")
@access("participant")
def rules(exam_id: int):
    program, exam = _exam_status(exam_id)
    if exam.running_attempt_id is not None:
        return redirect(url_for("participant.exam", attempt_id=exam.running_attempt_id))
    return render_template("participant/rules.html", program=program, exam=exam,
                           once_only=_once_only(exam), error=None)


@bp.post("/exams/<int:exam_id>/start")
@access("participant")
def start(exam_id: int):
    program, exam = _exam_status(exam_id)
    if _once_only(exam) and request.form.get("confirm") != "yes":
        return render_template(
            "participant/rules.html", program=program, exam=exam, once_only=True,
            error=gettext("Tick the box to confirm that you know this exam can be taken only "
                            "once.")), 422
    view = bank.policy.start_attempt(db.session, exam_id=exam_id, **participant_args())
    return redirect(url_for("participant.exam", attempt_id=view.attempt_id))


@bp.get("/attempts/<int:attempt_id>")
@access("participant")
def exam(attempt_id: int):
    view = bank.policy.attempt_view(db.session, attempt_id=attempt_id, **participant_args())
    if view.state != "started":
        return redirect(url_for("participant.result", attempt_id=attempt_id))
    # The page is a shell: the item, options and countdown come from the JSON API so that a
    # reload, a second tab and the keyboard all see the same server state.
    return render_template("participant/exam.html", attempt_id=attempt_id, view=view,
                           short=MESSAGES["finish_loft_needs_confirmation" if view.assembly ==
                                         "loft" else "finish_needs_confirmation"])


@bp.get("/attempts/<int:attempt_id>/result")
@access("participant")
def result(attempt_id: int):
    res = bank.policy.attempt_result(db.session, attempt_id=attempt_id, **participant_args())
    if res.score is None:
        # Still running: there is no result yet, so the participant goes back to the exam.
        return redirect(url_for("participant.exam", attempt_id=attempt_id))
    return render_template("participant/result.html", result=res, attempt_id=attempt_id,
                           next_step=next_step(res), stop_reasons=STOP_REASONS)


def next_step(res) -> str:
    """What the participant does after this result, as an English source text of the
    catalog (the page translates it)."""
    if res.certificate_number:
        return N_("Certificate issued: you are recognised as competent.")
    if res.kind == "pre_assessment":
        return N_("Follow the training: study each materi and pass its exam.")
    if res.passed:
        return N_("Continue with the next materi exam or the competency test when it opens.")
    if res.attempts_left <= 0:
        return N_("No attempts left; contact the organiser.")
    if res.kind == "ujikom":
        return N_("Study again and retake the competency test after the waiting period.")
    return N_("Study the materi again and retake its exam.")


# The logo on the certificate page fits this box (CSS pixels): narrower than a phone's 360 px
# screen less the page's margins and the certificate's frame.
LOGO_BOX = (240, 80)


def _logo_size(logo) -> tuple[int, int]:
    """The size to show the stored logo at on the page, its proportions kept (the width and
    height attributes: the page keeps its layout while the image loads)."""
    width, height = struct.unpack(">II", logo.data[16:24])  # the PNG's IHDR
    scale = min(LOGO_BOX[0] / width, LOGO_BOX[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _verify_url(number: str) -> str:
    return url_for("public.verify", number=number, _external=True)


@bp.get("/certificate/<number>")
@access("participant")
def certificate(number: str):
    document = bank.holders_certificate(db.session, number, session["participant_id"])
    logo = bank.program_logo(db.session, document.program_id) if document.has_logo else None
    verify_url = _verify_url(number)
    qr = base64.b64encode(certificate_pdf.qr_svg(verify_url).encode()).decode()
    return render_template("participant/certificate.html", cert=document,
                           logo_size=_logo_size(logo) if logo else None,
                           issue_line=certificate_pdf.issue_line(document),
                           route=certificate_pdf.route_text(document.route),
                           verify_url=verify_url, qr_src=f"data:image/svg+xml;base64,{qr}")


def _download_name(number: str) -> str:
    """The certificate's file name: ``sertifikat-NUMBER.pdf``, with anything but letters,
    digits, ``.``, ``_`` and ``-`` of the number replaced (a header-safe ASCII name)."""
    return "sertifikat-" + re.sub(r"[^A-Za-z0-9._-]", "_", number) + ".pdf"


@bp.get("/certificate/<number>.pdf")
@access("participant")
def certificate_download(number: str):
    """The holder's certificate as a PDF download (anyone else: 404, as for the page)."""
    document = bank.holders_certificate(db.session, number, session["participant_id"])
    logo = bank.program_logo(db.session, document.program_id) if document.has_logo else None
    pdf = certificate_pdf.certificate_pdf(document, verify_url=_verify_url(number),
                                          logo_png=logo.data if logo else None)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{_download_name(number)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/attempts/<int:attempt_id>/items/<int:item_id>/images/<int:position>")
@access("participant")
def item_image(attempt_id: int, item_id: int, position: int):
    """An image of an item shown in the participant's running attempt (404 otherwise)."""
    image = bank.presented_image(db.session, participant_id=session["participant_id"],
                                 attempt_id=attempt_id, item_id=item_id, position=position)
    if image is None:
        raise bank.NotFound("item_image_not_found")
    return picture_response(image.data, image.media_type)


@bp.get("/certificate/<number>/logo.png")
@access("participant")
def certificate_logo(number: str):
    """The agency's logo on the holder's certificate page (404 without a logo, and for
    anyone but the holder)."""
    document = bank.holders_certificate(db.session, number, session["participant_id"])
    return logo_response(document.program_id)
