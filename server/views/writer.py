"""Question writers: browse, search, create, edit, review and retire items; import, export,
statistics.  Administrators may use these pages too."""

from __future__ import annotations

import base64
import binascii
import json

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from item_bank import authoring, editor, families, item_file
from item_bank.exchange import load as exchange
from item_bank.exchange import write as exchange_write
from item_bank.importexport import LETTERS
from server import MAX_ID, bank
from server.auth import login_staff
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_, Notice, gettext, notice_text, status_label
from server.inputs import parse_int, query_int, upload_route
from server.policy_args import policy_now
from server.security import access, current_role, safe_next, start_session
from server.views.staff import form_int, saving, staff_actor

bp = Blueprint("writer", __name__, url_prefix="/writer")
STAFF = ("writer", "admin")


@bp.route("/login", methods=["GET", "POST"])
@access("anonymous")
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            user = login_staff(request.form.get("username", ""), request.form.get("password", ""))
        except BadInput as exc:
            error, status = exc.text(), exc.status
        else:
            start_session(user.session_version, staff_id=user.id, staff_role=user.role.value,
                          staff_name=user.username)
            return redirect(safe_next(request.form.get("next"), url_for(
                "admin.index" if user.role.value == "admin" else "writer.items")))
    return render_template("login.html", audience="staff", error=error), status


@bp.get("/items")
@access(*STAFF)
def items():
    """The search: every filter, the sort and the page from the query string; a value it
    cannot use is named (each one) above the form, which keeps what was typed: 422."""
    query, problems = _item_query()
    result = None if problems else bank.search_items(db.session, query)
    return render_template(
        "writer/items.html", result=result, query=query, problems=problems,
        args=request.args, filters=query.filters(), statuses=[s.value for s in bank.ItemStatus],
        models=[m.value for m in bank.IrtModel], sort_keys=bank.ITEM_SORT_KEYS,
        materi=_materi_choices(), exchange_formats=exchange.FORMAT_NAMES,
        programs=db.session.scalars(select(bank.Program).order_by(bank.Program.id)).all(),
        content_tags=db.session.scalars(select(bank.ContentTag).order_by(
            bank.ContentTag.materi_id, bank.ContentTag.code)).all()), 422 if problems else 200


def _item_query() -> tuple[bank.ItemQuery, list[str]]:
    """The search of the query string, and the text of every problem with it (the numbers
    here, the choices by :meth:`ItemQuery.problems`)."""
    problems: list[str] = []

    def number(name: str, default: int | None, column=None, **bounds) -> int | None:
        if column is not None:
            low, high = bank.int_range(column.property.columns[0].type)
            bounds = {"low": max(low, 0), "high": high}
        try:
            return query_int(name, default, **bounds)
        except BadInput as exc:
            problems.append(exc.text())
            return default

    query = bank.ItemQuery(
        q=request.args.get("q", "").strip(),
        program_id=number("program_id", None, bank.Program.id),
        materi_id=number("materi_id", None, bank.Materi.id),
        content_tag_id=number("content_tag_id", None, bank.ContentTag.id),
        status=request.args.get("status", ""), model=request.args.get("model", ""),
        shown_min=number("shown_min", None, low=0),
        shown_max=number("shown_max", None, low=0),
        sort=request.args.get("sort", "") or "code",
        order=request.args.get("order", "") or "asc",
        # The offset (page - 1) * PAGE must stay a 64-bit integer.
        page=number("page", 1, low=1, high=MAX_ID // bank.ITEMS_PER_PAGE))
    problems += [notice_text(n) for n in query.problems()]
    return query, problems


def _materi_choices():
    return db.session.scalars(select(bank.Materi).order_by(bank.Materi.id)).all()


def _item_form() -> editor.ItemForm:
    """The editor's fields as typed, with its pictures: the uploads and the new pictures a
    failed or previewed form kept (sent back as base64 in ``kept_image``)."""
    pictures = []
    for raw in request.form.getlist("kept_image"):
        try:
            pictures.append(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            pictures.append(b"")  # reported as "not a picture" with its number
    for upload in request.files.getlist("image"):
        if upload.filename:
            pictures.append(upload.read())
        upload.close()  # a large upload is spooled to a temporary file: closed once read
    field = request.form.get
    return editor.ItemForm(
        stem=field("stem", ""), options=[field(f"option_{x}", "") for x in editor.LETTERS],
        key=field("key", ""), model=field("model", "3pl"), a=field("a", ""),
        b=field("b", ""), c=field("c", ""), tag_id=field("tag_id", ""),
        new_tag_code=field("new_tag_code", ""), new_tag_name=field("new_tag_name", ""),
        code=field("code", ""), materi_id=field("materi_id", ""), author=field("author", ""),
        family=field("family", ""), p_guess=field("p_guess", ""), uploads=pictures,
        remove_images=request.form.getlist("remove_image"))


def _data_url(picture) -> str:
    return f"data:{picture.media_type};base64,{base64.b64encode(picture.data).decode()}"


def _editor(item, form: editor.ItemForm, checked: editor.CheckedForm | None = None,
            status: int = 200):
    """The editor page: the form as typed, every problem next to its field, the pictures
    (stored and newly kept) and, when asked for, the preview."""
    stored = editor.stored_pictures(db.session, item.id) if item is not None else []
    removed = set(form.remove_images)
    kept = checked.pictures if checked is not None else []
    preview = checked.preview if checked is not None else None
    if item is not None and checked is None:
        preview = editor.stored_preview(item)
    pictures = [_data_url(p) for n, p in enumerate(stored, 1) if str(n) not in removed]
    pictures += [_data_url(p) for p in kept]
    errors = {name: [notice_text(n) for n in notices]
              for name, notices in (checked.problems if checked else {}).items()}
    tags = db.session.scalars(
        select(bank.ContentTag).where(*(() if item is None else (
            bank.ContentTag.materi_id == item.materi_id,)))
        .order_by(bank.ContentTag.materi_id, bank.ContentTag.code)).all()
    return render_template(
        "writer/item.html", item=item, form=form, errors=errors,
        rejected=errors and notice_text(Notice("item_form_rejected",
                                               {"count": sum(map(len, errors.values()))})),
        materi=_materi_choices(), tags=tags, letters=editor.LETTERS,
        stored=[_data_url(p) for p in stored], kept=[
            (base64.b64encode(p.data).decode(), _data_url(p)) for p in kept],
        preview=preview, pictures=pictures, unsaved=checked is not None,
        stats=item and bank.item_report(db.session, item.id),
        relatives=item and families.family_of(db.session, item),
        enemies=item and families.enemies_of(db.session, item)), status


def _editor_post(item):
    """Preview the form (nothing stored) or save it; a form with problems comes back with
    each of them and everything typed, pictures included."""
    form = _item_form()
    item_id = item.id if item is not None else None
    if request.form.get("action") == "preview":
        checked = editor.check_form(db.session, form, item_id=item_id)
        return _editor(item, form, checked, 422 if checked.problems else 200)
    try:
        saved = saving(editor.save_item, db.session, form, item_id=item_id,
                       actor=staff_actor())
    except editor.FormRejected as rejected:
        return _editor(item, form, rejected.checked, 422)
    if item is None:
        flash(gettext("Item %(item)s created.", item=saved.code))
    else:
        flash(gettext("Item %(item)s saved (version %(version)s).", item=saved.code,
                      version=saved.version))
    return redirect(url_for("writer.edit_item", item_id=saved.id))


@bp.route("/items/new", methods=["GET", "POST"])
@upload_route
@access(*STAFF)
def new_item():
    if request.method == "POST":
        return _editor_post(None)
    return _editor(None, editor.ItemForm())


def _item_or_404(item_id: int):
    item = db.session.get(bank.Item, item_id)
    if item is None:
        raise bank.NotFound("item_not_found", item=item_id)
    return item


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@upload_route
@access(*STAFF)
def edit_item(item_id: int):
    item = _item_or_404(item_id)
    if request.method == "POST":
        return _editor_post(item)
    return _editor(item, editor.form_of(item))


@bp.post("/items/<int:item_id>/enemies")
@access(*STAFF)
def add_enemy(item_id: int):
    """Mark the item and the item of the code typed as enemies: no participant gets both."""
    item = _item_or_404(item_id)
    other = saving(families.mark_enemies, db.session, item.id, request.form.get("code", ""),
                   actor=staff_actor())
    flash(gettext("%(item)s and %(other)s are enemies: no participant gets both.",
                  item=item.code, other=other.code))
    return redirect(url_for("writer.edit_item", item_id=item.id, _anchor="family"))


@bp.post("/items/<int:item_id>/enemies/<int:other_id>/delete")
@access(*STAFF)
def remove_enemy(item_id: int, other_id: int):
    item = _item_or_404(item_id)
    other = saving(families.unmark_enemies, db.session, item.id, other_id, actor=staff_actor())
    if other is not None:
        flash(gettext("%(item)s and %(other)s are no longer enemies.", item=item.code,
                      other=other.code))
    return redirect(url_for("writer.edit_item", item_id=item.id, _anchor="family"))


def _retire_confirmed(status: str) -> None:
    """Retiring is permanent: its form carries a ticked confirmation (no script needed)."""
    if status == bank.ItemStatus.RETIRED and request.form.get("confirm") != "yes":
        raise BadInput(N_("Retiring is permanent: tick the confirmation box to retire."), 422,
                       "invalid_input")


@bp.post("/items/<int:item_id>/status")
@access(*STAFF)
def change_status(item_id: int):
    status = request.form.get("status", "")
    _retire_confirmed(status)
    item = saving(authoring.change_status, db.session, item_id=item_id, status=status,
                  actor=staff_actor(), reason=request.form.get("reason", ""))
    flash(gettext("Item %(item)s is now %(status)s.", item=item.code,
                  status=status_label(item.status)))
    return redirect(url_for("writer.edit_item", item_id=item.id))


@bp.post("/items/status")
@access(*STAFF)
def change_statuses():
    """The items list's bulk change: every checked item moves, or none does."""
    status = request.form.get("status", "")
    _retire_confirmed(status)
    low, high = bank.int_range(bank.Item.id.property.columns[0].type)
    item_ids = [parse_int(x, "item_id", low=max(low, 0), high=high)
                for x in request.form.getlist("item_id")]
    items = saving(authoring.change_statuses, db.session, item_ids=item_ids, status=status,
                   actor=staff_actor(), reason=request.form.get("reason", ""))
    flash(gettext("%(count)s items are now %(status)s: %(items)s.", count=len(items),
                  status=status_label(status), items=", ".join(i.code for i in items)))
    return redirect(url_for("writer.items"))


def _program_or_404(program_id: int | None):
    program = db.session.get(bank.Program, program_id) if program_id is not None else None
    if program is None:
        raise bank.NotFound("program_not_found")
    return program


@bp.get("/items/export.json", defaults={"fmt": "json"})
@bp.get("/items/export.csv", defaults={"fmt": "csv"})
@access(*STAFF)
def export_items(fmt: str):
    """One program's items as an item file, the format the import reads."""
    program = _program_or_404(query_int("program_id", 0, low=0, high=MAX_ID))
    body = item_file.export_items(db.session, program_code=program.code, fmt=fmt)
    mimetype = "application/json" if fmt == "json" else "text/csv"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={program.code}-items.{fmt}"})


@bp.post("/items/import")
@upload_route
@access(*STAFF)
def import_items():
    """Read an uploaded item file (CSV or JSON) and show what importing it would create and
    change, or every problem; nothing is stored until the writer confirms."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadInput(N_("Choose a CSV or JSON item file."), 422, "invalid_input")
    program = _program_or_404(form_int("program_id", column=bank.Program.id))
    # Entering new items as operational skips review and pretest: an administrator's decision.
    allow_operational = request.form.get("allow_operational") == "on"
    if allow_operational and current_role() != "admin":
        raise bank.Forbidden("import_operational_forbidden")
    data = upload.read()
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    plan = saving(item_file.plan_file, db.session, data, filename=filename,
                  program_code=program.code, allow_operational=allow_operational)
    token = None
    if not plan.problems and (plan.new or plan.changed):
        token = saving(item_file.save_upload, db.session, data, filename=filename,
                       program_id=program.id, actor=staff_actor(),
                       allow_operational=allow_operational, now=policy_now())
    return render_template("writer/item_file_preview.html", plan=plan, token=token,
                           allow_operational=allow_operational), 422 if plan.problems else 200


@bp.post("/items/import/<token>")
@access(*STAFF)
def confirm_import(token: str):
    """Import the previewed item file (read again: all or none, and only as previewed)."""
    try:
        plan = saving(item_file.import_draft, db.session, token, actor=staff_actor(),
                      expected=request.form.get("plan", ""),
                      may_allow_operational=current_role() == "admin", now=policy_now())
    except LookupError:
        raise bank.NotFound("import_draft_not_found") from None
    flash(gettext("Imported into %(program)s: %(new)s new items, %(changed)s changed.",
                  program=plan.program, new=len(plan.new), changed=len(plan.changed)))
    return redirect(url_for("writer.items"))


# --- question files of other tools: preview, then confirm ----------------------------------
@bp.post("/items/exchange")
@upload_route
@access(*STAFF)
def preview_exchange():
    """Read an uploaded Moodle XML, GIFT, Aiken or QTI file and show what importing it
    would store, or every question that stops it; nothing is stored yet."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadInput(N_("Choose a question file."), 422, "invalid_input")
    fmt = request.form.get("format", "")
    if fmt not in exchange.FORMATS:
        raise BadInput(N_("Choose the file's format."), 422, "invalid_input")
    materi_id = form_int("materi_id", column=bank.Materi.id)
    materi = db.session.get(bank.Materi, materi_id)
    if materi is None:
        raise bank.NotFound("materi_not_found", materi=materi_id)
    data = upload.read()
    as_pretest = request.form.get("as_pretest") == "on"
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    plan = saving(exchange.plan_import, db.session, data, filename=filename, fmt=fmt,
                  program_code=materi.program.code, materi_code=materi.code,
                  as_pretest=as_pretest)
    token = None
    if not plan.problems and plan.items:
        token = saving(exchange.save_draft, db.session, data, filename=filename, fmt=fmt,
                       program_id=materi.program_id, materi_id=materi.id, actor=staff_actor(),
                       as_pretest=as_pretest, now=policy_now())
    return render_template("writer/import_preview.html", plan=plan, token=token,
                           format_name=exchange.FORMAT_NAMES[fmt],
                           letters=LETTERS), 422 if plan.problems else 200


@bp.post("/items/exchange/<token>")
@access(*STAFF)
def confirm_exchange(token: str):
    """Import the previewed file (read again: all or none)."""
    try:
        plan = saving(exchange.import_draft, db.session, token, actor=staff_actor(),
                      now=policy_now())
    except LookupError:
        raise bank.NotFound("import_draft_not_found") from None
    flash(gettext("Imported %(count)s items into %(program)s / %(materi)s.",
                  count=len(plan.items), program=plan.program, materi=plan.materi))
    return redirect(url_for("writer.items"))


@bp.get("/items/export-qti3.zip", defaults={"fmt": "qti"})
@bp.get("/items/export-moodle.xml", defaults={"fmt": "moodle"})
@access(*STAFF)
def export_exchange(fmt: str):
    """One program's items as a QTI 3.0 package or a Moodle XML file, images included."""
    program = db.session.get(bank.Program, query_int("program_id", 0))
    if program is None:
        raise bank.NotFound("program_not_found")
    body = exchange_write.export_exchange(db.session, program_code=program.code, fmt=fmt)
    name, mimetype = ((f"{program.code}-qti3.zip", "application/zip") if fmt == "qti"
                      else (f"{program.code}-moodle.xml", "application/xml"))
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={name}"})


# --- calibration: logged responses -> estimates -> accepted into the bank ---------------------
@bp.get("/calibration")
@access(*STAFF)
def calibration():
    programs = db.session.scalars(select(bank.Program).order_by(bank.Program.id)).all()
    now = policy_now() or bank.db_now(db.session)
    readiness = [(p, rows) for p in programs
                 if (rows := bank.pretest_readiness(db.session, program_id=p.id, now=now))]
    return render_template(
        "writer/calibration.html", programs=programs,
        materi=_materi_choices(), models=bank.CALIBRATION_MODELS,
        runs=bank.recent_calibration_runs(db.session), readiness=readiness)


@bp.post("/calibration")
@access(*STAFF)
def start_calibration():
    program_id = form_int("program_id", column=bank.Program.id)
    materi_id = form_int("materi_id", required=False, column=bank.Materi.id)
    model = request.form.get("model", "2pl")
    job_id = saving(bank.queue_calibration, db.session, program_id=program_id,
                    materi_id=materi_id, model=model, actor=staff_actor())
    return redirect(url_for("writer.calibration_job", job_id=job_id))


@bp.get("/calibration/jobs/<int:job_id>")
@access(*STAFF)
def calibration_job(job_id: int):
    """A calibration asked for: while it waits or runs, a page that looks again every few
    seconds; once done, its run."""
    job = bank.calibration_job(db.session, job_id)
    if job.state == bank.JobState.DONE:
        return redirect(url_for("writer.calibration_run", run_id=job.run_id))
    error = None
    if job.state == bank.JobState.FAILED:
        failure = json.loads(job.error)
        error = Notice(failure["code"], failure["params"])
    return render_template("writer/calibration_job.html", job=job, error=error,
                           program=db.session.get(bank.Program, job.program_id),
                           materi=job.materi_id and db.session.get(bank.Materi, job.materi_id))


@bp.get("/calibration/<int:run_id>")
@access(*STAFF)
def calibration_run(run_id: int):
    run = bank.calibration_run(db.session, run_id)
    ids = [int(r["id"]) for r in run["records"]]
    items = {str(i.id): i for i in db.session.scalars(
        select(bank.Item).where(bank.Item.id.in_(ids))).all()}
    return render_template("writer/calibration_run.html", run=run, items=items,
                           program=db.session.get(bank.Program, run["program_id"]),
                           materi=run["materi_id"] and db.session.get(bank.Materi,
                                                                      run["materi_id"]))


@bp.get("/monitoring")
@access(*STAFF)
def monitoring():
    """Leaks and drift: the operational items of a program whose live answers run above the
    model, flagged under a false discovery rate over the bank, with the evidence."""
    programs = db.session.scalars(select(bank.Program).order_by(bank.Program.id)).all()
    if not programs:
        return render_template("writer/monitoring.html", programs=[], program=None, tests=[])
    program_id = query_int("program_id", programs[0].id, low=0, high=MAX_ID)
    program = next((p for p in programs if p.id == program_id), None)
    if program is None:
        raise bank.NotFound("program_not_found")
    tests = bank.leak_monitor(db.session, program_id=program.id)
    return render_template("writer/monitoring.html", programs=programs, program=program,
                           tests=tests, q=bank.LEAK_Q, flagged=sum(t["flagged"] for t in tests))


@bp.post("/calibration/<int:run_id>/accept")
@access(*STAFF)
def accept_calibration(run_id: int):
    chosen = request.form.getlist("item_id")
    if not chosen:
        raise BadInput(N_("Choose at least one estimated pretest item to accept."), 422,
                       "invalid_input")
    low, high = bank.int_range(bank.Item.id.property.columns[0].type)
    item_ids = [parse_int(x, "item_id", low=max(low, 0), high=high) for x in chosen]
    accepted, skipped = saving(bank.accept_calibration, db.session, run_id=run_id,
                               item_ids=item_ids, actor=staff_actor())
    flash(gettext("%(count)s item(s) calibrated and now operational: %(items)s.",
                  count=len(accepted), items=", ".join(item.code for item in accepted) or "—"))
    if skipped:
        flash(gettext("Not changed, no longer pretest: %(items)s.", items=", ".join(
            f"{code} ({status_label(status)})" for code, status in skipped.items())))
    return redirect(url_for("writer.calibration_run", run_id=run_id))
