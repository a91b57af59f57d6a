"""``/api/v1/admin``: the administration API for other systems (an LMS, the agency's
personnel system), with a service token of scope ``admin:read`` or ``admin:write``.

They read programs with their materi, exams and assignments, enrol a roster, mark assignments
done and pull the results of finished attempts, without a person in between.  The rules are
the administrator's pages' own (:mod:`item_bank.admin`, :mod:`item_bank.admin_api`): a roster
or a list of completions is stored whole or not at all, and a refusal (422) names every bad
record by its index in the request's array.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, g, request

from item_bank import admin as ib_admin
from item_bank import admin_api
from server import bank
from server.api import api, field, json_body, json_response
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.inputs import INT64_MAX, query_int
from server.policy_args import policy_now
from server.security import access
from server.views.staff import saving

# The place of a bad record in a refusal: its index in the request's array.
AT_INDEX = "at index"
RESULTS_PAGE_SIZE = 100
RESULTS_PAGE_MAX = 1000


@api.get("/admin/programs")
@access("service", scope="admin:read")
def admin_programs():
    return json_response({"programs": admin_api.programs(db.session)})


@api.get("/admin/programs/<int:program_id>")
@access("service", scope="admin:read")
def admin_program(program_id: int):
    return json_response(admin_api.program_record(db.session, program_id))


@api.get("/admin/programs/<int:program_id>/materi")
@access("service", scope="admin:read")
def admin_materi(program_id: int):
    return json_response({"materi": admin_api.materi_list(db.session, program_id)})


@api.get("/admin/programs/<int:program_id>/exams")
@access("service", scope="admin:read")
def admin_exams(program_id: int):
    return json_response({"exams": admin_api.exam_list(db.session, program_id)})


@api.get("/admin/programs/<int:program_id>/exams/<int:exam_id>")
@access("service", scope="admin:read")
def admin_exam(program_id: int, exam_id: int):
    return json_response(admin_api.exam_record(db.session, program_id, exam_id))


def _refused(name: str, problems: list[tuple[int, str]]) -> BadInput:
    """The 422 of a bulk request: every bad record of the array ``name`` with its index."""
    problems = sorted(problems, key=lambda problem: problem[0])
    return BadInput(N_("Nothing was stored: %(count)s record(s) of %(name)s are refused "
                       "(each one in params.problems)."), 422, "invalid_input",
                    count=len(problems), name=name,
                    problems=[{"index": index, "problem": text} for index, text in problems])


def _records(body: Mapping[str, Any], name: str,
             fields: Mapping[str, tuple[type, bool, Any]]) -> tuple[list, list, list]:
    """The array ``name`` of ``body`` read record by record: each an object with only
    ``fields`` (name -> (type, required, column or None)), strings no longer than their
    column.  Returns the good records' values in the order of ``fields``, their indexes,
    and ``(index, problem)`` for every bad one."""
    records = field(body, name, list)
    if not records:
        raise BadInput(N_("%(name)s must hold at least one record."), 422, "invalid_input",
                       name=name)
    values, indexes, problems = [], [], []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append((index, "not an object"))
            continue
        bad = [f"unknown field {key}" for key in record if key not in fields]
        row = []
        for key, (kind, required, column) in fields.items():
            value = record.get(key)
            if value is None:
                if required:
                    bad.append(f"{key} is required")
                row.append("" if kind is str else None)
            elif isinstance(value, bool) or not isinstance(value, kind):
                bad.append(f"{key} must be a {'string' if kind is str else 'whole number'}")
            elif column is not None and len(value) > bank.max_length(column):
                bad.append(f"{key} is longer than {bank.max_length(column)} characters")
            else:
                row.append(value.strip() if kind is str else value)
        if bad:
            problems.append((index, "; ".join(bad)))
        else:
            values.append(tuple(row))
            indexes.append(index)
    return values, indexes, problems


ROSTER_FIELDS = {"nip": (str, True, bank.Participant.nip),
                 "name": (str, True, bank.Participant.name),
                 "unit": (str, False, bank.Participant.unit),
                 "password": (str, False, None)}
COMPLETION_FIELDS = {"nip": (str, True, None), "assignment_id": (int, True, None)}


def _bulk(name: str, change: Callable[[], Any]) -> Any:
    """``change()``, its ImportRejected as the 422 naming each bad record."""
    try:
        return saving(change)
    except BadInput as exc:
        rejected = exc.__cause__
        if isinstance(rejected, ib_admin.ImportRejected):
            raise _refused(name, rejected.problems) from rejected
        raise


@api.post("/admin/programs/<int:program_id>/participants")
@access("service", scope="admin:write")
def admin_enrol(program_id: int):
    """Register (or update the name and unit of) and enrol every participant, or nobody.
    Idempotent by NIP; a password is only a first one (an existing password is kept)."""
    program = ib_admin.program_by_id(db.session, program_id)
    rows, indexes, problems = _records(json_body(), "participants", ROSTER_FIELDS)
    if problems:
        # every bad record at once: those the roster's own rules refuse too
        raise _refused("participants",
                       problems + bank.roster_problems(rows, indexes, place=AT_INDEX))
    count = _bulk("participants", lambda: bank.enrol_roster(
        db.session, program_id=program.id, rows=rows, lines=indexes, source="participants",
        place=AT_INDEX, keep_passwords=True))
    return json_response({"program_id": program.id, "participants": count})


@api.post("/admin/programs/<int:program_id>/completions")
@access("service", scope="admin:write")
def admin_completions(program_id: int):
    """Mark assignments done for enrolled participants: every record or none; idempotent."""
    program = ib_admin.program_by_id(db.session, program_id)
    rows, indexes, problems = _records(json_body(), "completions", COMPLETION_FIELDS)
    if problems:
        raise _refused("completions", problems + ib_admin.check_completions(
            db.session, program_id=program.id, rows=rows, lines=indexes)[1])
    stored = _bulk("completions", lambda: ib_admin.mark_assignments_done(
        db.session, program_id=program.id, rows=rows, lines=indexes,
        marked_by=service_actor()))
    return json_response({"program_id": program.id, "completions": len(rows),
                          "stored": stored})


def service_actor() -> str:
    """Who marked it: the calling token's name (never a field of the body)."""
    return f"token:{g.service_name}"[:80]


def _since(program: bank.Program) -> dt.datetime | None:
    """``updated_since``: an ISO 8601 date or date and time; without an offset it is read
    in the program's time zone."""
    raw = request.args.get("updated_since", "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
        if value.tzinfo is None:
            value = value.replace(tzinfo=program.settings.zone())
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise BadInput(N_("updated_since must be a date or a date and time in ISO 8601, like "
                          "2026-12-01 or 2026-12-01T08:00:00+07:00, not %(value)s."), 422,
                       "invalid_input", value=repr(raw[:40])) from exc


@api.get("/admin/programs/<int:program_id>/results")
@access("service", scope="admin:read")
def admin_results(program_id: int):
    """Results of finished attempts after ``updated_since``, in the order they finished."""
    program = ib_admin.program_by_id(db.session, program_id)
    after = _since(program)
    per_page = query_int("per_page", RESULTS_PAGE_SIZE, low=1, high=RESULTS_PAGE_MAX)
    page = query_int("page", 1, low=1, high=INT64_MAX // per_page)
    # Attempts finishing now may still be committing: held back for the settle time, like
    # certificates (server/api/certificates.py), so a client moving to `until` misses none.
    now = policy_now() or bank.db_now(db.session)
    until = now - dt.timedelta(seconds=current_app.config["CERTIFICATE_SETTLE_SECONDS"])
    results, total = admin_api.results_page(
        db.session, program_id=program.id, after=after, until=until,
        offset=(page - 1) * per_page, limit=per_page)
    return json_response({
        "program_id": program.id, "results": results, "page": page, "per_page": per_page,
        "total": total, "more": page * per_page < total,
        "next_updated_since": until.astimezone(program.settings.zone())})
