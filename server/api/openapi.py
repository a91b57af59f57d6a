"""``/api/v1/openapi.json``: the OpenAPI 3 description of every route of the app.

The document is built from the app's URL map, so that no route can be left out: every rule
and method is one operation, its path parameters come from the rule (``<int:...>`` is the
app's 64-bit id, see ``server.IdConverter``), and its security and 401/403 answers come from
the roles its view declares with :func:`server.security.access`.  What a route takes and
answers is written here: the JSON API's bodies and schemas in :data:`API`, the pages' query
parameters, form fields and statuses in :data:`PAGES`.  A route with neither is still listed
(as ``x-undocumented``), and tests/server/test_server_openapi.py fails on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, jsonify

from item_bank.admin_edit import EDITABLE_SETTINGS as SETTINGS
from server import MAX_ID, bank
from server.api import api
from server.security import access

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": schema or {"type": "object"}}}}


def _op(summary: str, ok: dict, *, body: dict | None = None, params: list | None = None,
        errors: tuple[int, ...] = (404,), status: int = 200) -> dict:
    """A JSON API operation; 401/403 and the security are added from the view's roles."""
    op: dict = {"summary": summary, "responses": {str(status): ok}}
    for code in errors:
        op["responses"][str(code)] = _ERROR
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID}}


ATTEMPT = _path_id("attempt_id")
INT, NUM, STR, BOOL = ({"type": t} for t in ("integer", "number", "string", "boolean"))
TIME = {"type": "string", "format": "date-time"}
# Changes are sent as JSON even when they carry nothing (CSRF protection, server/api).
EMPTY = {"type": "object", "description": "Send {}"}


def _null(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _fields(properties: dict) -> dict:
    """Every listed property is required; the server may add more (additionalProperties)."""
    return {"required": list(properties), "properties": properties}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _null_ref(name: str) -> dict:
    return {"nullable": True, "allOf": [_ref(name)]}


# The parameters of a message: numbers, exam codes, datetimes (ISO 8601 text), the program's
# time zone ("timezone", an IANA name) when the message has a date in it.
PARAMS = {"type": "object", "additionalProperties": True,
          "description": "The message's parameters by name; datetimes in ISO 8601"}

SCHEMAS = {
    "Error": {"type": "object", "description": "error: the kind (not_found, "
              "forbidden, invalid_input, conflict, locked, bank_exhausted, or one of "
              "the server's own: bad_request, unauthorized, ...); code: exactly why "
              "(the exam policy's message code, else the kind again); params: the "
              "message's parameters; message: the text in the session's language.",
              **_fields({"error": STR, "code": STR, "params": PARAMS,
                         "message": STR})},
    "Notice": {"type": "object", "description": "A message of the exam policy: its "
               "code (stable, for programs), parameters, and the text in the "
               "session's language.", **_fields({
                   "code": STR, "params": PARAMS, "message": STR})},
    "Login": {"type": "object", "required": ["nip", "password"], "properties": {
        "nip": {"type": "string", "pattern": "^[0-9]{18}$"},
        "password": {"type": "string"}}},
    "Finish": {"type": "object", "properties": {
        "confirm": {"type": "boolean", "description": "finish even with fewer "
                    "answers than the exam needs (they count as wrong)"}}},
    "Answer": {"type": "object", "required": ["item_id", "choice"], "properties": {
        "item_id": {"type": "integer"},
        "choice": {"type": "integer", "minimum": 0,
                   "description": "0-based position of the option as shown"}}},
    "Item": {"type": "object", "description": "The current item: stem, options in "
             "the order shown to this participant, position, remaining seconds "
             "(from the database clock). `stem` and `options` are the writer's Markdown "
             "source; `stem_html` and `options_html` are what the page shows: the safe "
             "Markdown subset with formulas as MathML, sanitised (no script, style, URL or "
             "event attribute).", **_fields({
                 "attempt_id": INT, "item_id": INT, "position": INT, "stem": STR,
                 "options": {"type": "array", "items": STR}, "images": INT,
                 "stem_html": STR, "options_html": {"type": "array", "items": STR},
                 "answered": INT,
                 "min_items": INT, "max_items": INT, "deadline": TIME,
                 "seconds_left": NUM})},
    "Attempt": {"type": "object", "description": "Attempt state: id, exam, status, "
                "deadline, remaining seconds.", **_fields({
                    "attempt_id": INT, "exam_id": INT, "exam_code": STR, "kind": STR,
                    "state": STR, "number": INT, "answered": INT,
                    "min_items": INT, "max_items": INT, "assembly": STR,
                    "deadline": TIME,
                    "started_at": TIME, "seconds_left": NUM, "resumed": BOOL})},
    "Result": {"type": "object", "description": "Score 0-100, passed, category "
               "(kompeten/belum kompeten for ujikom), attempts left, certificate.",
               **_fields({
                   "attempt_id": INT, "exam_id": INT, "kind": STR, "number": INT,
                   "state": STR, "answered": INT,
                   "imputed": {"type": "integer", "minimum": 0, "description":
                               "unanswered items counted as wrong up to the "
                               "exam's minimum length"},
                   "stop_reason": _null(STR),
                   "score": _null({"type": "number", "minimum": 0, "maximum": 100}),
                   "passed": _null(BOOL), "category": _null(STR),
                   "attempts_left": _null(INT), "certificate_number": _null(STR),
                   "cut_score": _null(NUM), "next_step": _ref("Notice"),
                   "exam_title": STR, "started_at": _null(TIME),
                   "finished_at": _null(TIME), "timezone": STR,
                   "scored_by": {"type": "string", "enum": ["domain", "proportion"],
                                 "description": "proportion: the score is the share of "
                                 "right answers (a bank not calibrated yet)"}})},
    "AttemptSummary": {"type": "object", "description": "A finished attempt, for the "
                       "participant's history.", **_fields({
                           "attempt_id": INT, "number": INT, "state": STR,
                           "started_at": TIME, "finished_at": _null(TIME),
                           "score": _null(NUM), "passed": _null(BOOL),
                           "stop_reason": _null(STR)})},
    "ExamStatus": {"type": "object", "description": "One exam of a program for this "
                   "participant: open or locked (and why), attempts used, best score.",
                   **_fields({
                       "exam_id": INT, "code": STR, "title": STR, "kind": STR,
                       "materi_code": _null(STR), "attempts_used": INT,
                       "max_attempts": INT, "passed": BOOL, "best_score": _null(NUM),
                       "running_attempt_id": _null(INT), "available": BOOL,
                       "locked_reason": _null_ref("Notice"),
                       "available_from": _null(TIME),
                       "min_items": {"type": "integer", "minimum": 1, "description":
                                     "answers the result is computed from alone (a LOFT "
                                     "form: all of them)"},
                       "max_items": INT, "duration_s": INT, "cut_score": NUM,
                       "history": {"type": "array", "items": _ref("AttemptSummary")}})},
    "ProgramStatus": {"type": "object", "description": "Where the participant stands "
                      "in a program, with the next step.", **_fields({
                          "program_id": INT, "program_code": STR, "program_name": STR,
                          "exams": {"type": "array", "items": _ref("ExamStatus")},
                          "assignments_done": INT, "assignments_total": INT,
                          "category": _null(STR), "certificate_number": _null(STR),
                          "next_step": _ref("Notice"), "timezone": STR})},
    "AnswerOutcome": {"type": "object", **_fields({
        "attempt_id": INT, "item_id": INT,
        "stored": {"type": "boolean", "description": "false when this exact answer "
                   "was already stored (a retry)"},
        "finished": BOOL,
        "next_item": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Item"}]},
        "result": {"nullable": True,
                   "allOf": [{"$ref": "#/components/schemas/Result"}]}})},
    "Certificate": {"type": "object", "properties": {
        "number": {"type": "string"}, "nip": {"type": "string"},
        "name": {"type": "string"}, "program": {"type": "string"},
        "route": {"type": "string", "enum": ["pre_assessment", "ujikom"]},
        "issued_at": {"type": "string", "format": "date-time"},
        "score": {"type": "number"}}},
    # --- the administration API (server/api/admin.py); times in the program's zone
    "AdminProgram": {"type": "object", **_fields({
        "id": INT, "code": STR, "name": STR, "open": BOOL,
        "timezone": {"type": "string", "description": "IANA zone of the program"}})},
    "AdminMateri": {"type": "object", **_fields({"id": INT, "code": STR, "name": STR})},
    "AdminExam": {"type": "object", "description": "An exam with the numbers in force (its "
                  "own or the program's setting)", **_fields({
                      "id": INT, "code": STR, "title": STR,
                      "kind": {"type": "string", "enum": ["pre_assessment", "materi",
                                                          "ujikom"]},
                      "materi_id": _null(INT), "materi_code": _null(STR),
                      "assembly": {"type": "string", "enum": ["cat", "loft"]},
                      "cut_score": NUM, "max_attempts": INT, "duration_s": INT,
                      "min_items": INT, "max_items": INT,
                      "window_opens_at": _null(TIME), "window_closes_at": _null(TIME)})},
    "AdminAssignment": {"type": "object", **_fields({"id": INT, "code": STR, "title": STR})},
    "AdminResult": {"type": "object", "description": "A finished attempt", **_fields({
        "attempt_id": INT, "nip": STR, "name": STR, "exam_id": INT, "exam_code": STR,
        "exam_kind": STR, "attempt_number": INT,
        "state": {"type": "string", "enum": ["submitted", "expired"]},
        "score": _null({"type": "number", "minimum": 0, "maximum": 100}),
        "passed": _null(BOOL), "category": _null(STR), "finished_at": TIME,
        "certificate_number": _null(STR)})},
}
SCHEMAS["AdminProgramDetail"] = {"type": "object", **_fields({
    **SCHEMAS["AdminProgram"]["properties"],
    "materi": {"type": "array", "items": _ref("AdminMateri")},
    "exams": {"type": "array", "items": _ref("AdminExam")},
    "assignments": {"type": "array", "items": _ref("AdminAssignment")}})}

# The JSON API by OpenAPI path and method.
API: dict[str, dict[str, dict]] = {
    "/api/v1/session": {
        "post": _op("Log in with NIP and password (sets the session cookie)",
                    _json("Logged in"), body=_ref("Login"),
                    errors=(400, 401, 415, 422, 429)),
        "delete": _op("Log out (send it as JSON, like every change)", _json("Logged out"),
                      errors=(415,)),
        "get": _op("Who is logged in", _json("The participant"), errors=()),
    },
    "/api/v1/programs": {"get": _op(
        "The participant's programs, each with its status",
        _json("Programs", {"type": "object", "required": ["programs"], "properties": {
            "programs": {"type": "array", "items": _ref("ProgramStatus")}}}), errors=())},
    "/api/v1/programs/{program_id}": {"get": _op(
        "Where the participant stands in one program: each exam locked or open, attempts "
        "used and left, results, certificate",
        _json("Program status", _ref("ProgramStatus")), params=[_path_id("program_id")])},
    "/api/v1/exams/{exam_id}/attempts": {"post": _op(
        "Start an attempt, or resume the one in progress",
        _json("Started or resumed", _ref("Attempt")), status=201,
        params=[_path_id("exam_id")], body=EMPTY, errors=(400, 404, 409, 415))},
    "/api/v1/attempts/{attempt_id}": {"get": _op(
        "Attempt state and remaining time", _json("Attempt", _ref("Attempt")),
        params=[ATTEMPT])},
    "/api/v1/attempts/{attempt_id}/item": {"get": _op(
        "The current item, or the result when the attempt is finished",
        _json("{item} or {item: null, result}", {
            "type": "object", "required": ["item"], "properties": {
                "item": _null_ref("Item"), "result": _ref("Result")}}), params=[ATTEMPT])},
    "/api/v1/attempts/{attempt_id}/answers": {"post": _op(
        "Answer the current item; sending the same answer again returns the same reply",
        _json("Saved", _ref("AnswerOutcome")), params=[ATTEMPT], body=_ref("Answer"),
        errors=(400, 404, 409, 415, 422))},
    "/api/v1/attempts/{attempt_id}/finish": {"post": _op(
        "Finish the attempt now.  With fewer answers than the exam's minimum (a CAT) or "
        "than its form (LOFT) the reply is 409 finish_needs_confirmation (params: "
        "answered, min_items or length, missing) unless confirm is true: the missing "
        "answers then count as wrong",
        _json("Result", _ref("Result")), params=[ATTEMPT], body=_ref("Finish"),
        errors=(400, 404, 409, 415, 422))},
    "/api/v1/attempts/{attempt_id}/result": {"get": _op(
        "The result of a finished attempt", _json("Result", _ref("Result")),
        params=[ATTEMPT], errors=(404, 409))},
    "/api/v1/certificates": {"get": _op(
        "Certificates issued after the cursor, oldest first; repeat with `next` until "
        "`more` is false. Pulling twice with the same cursor never duplicates.",
        _json("Page", {"type": "object", "properties": {
            "certificates": {"type": "array", "items": _ref("Certificate")},
            "next": STR, "more": BOOL}}),
        errors=(400,),
        params=[{"name": "since", "in": "query", "schema": STR,
                 "description": "the `next` cursor of the previous page (opaque)"},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}])},
    "/api/v1/certificates/{number}": {"get": _op(
        "One certificate by number", _json("Certificate", _ref("Certificate")),
        errors=(400, 404),
        params=[{"name": "number", "in": "path", "required": True, "schema": STR}])},
    "/api/v1/openapi.json": {"get": _op("This document", _json("OpenAPI 3 document"),
                                        errors=())},
}

# The administration API: service tokens with the scope in each operation's x-scopes.
PROGRAM = _path_id("program_id")
_ROSTER = {"type": "object", "required": ["participants"], "properties": {"participants": {
    "type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["nip", "name"], "additionalProperties": False,
        "properties": {"nip": {"type": "string", "pattern": "^[0-9]{18}$"},
                       "name": {"type": "string", "minLength": 1, "maxLength": 200},
                       "unit": {"type": "string", "maxLength": 200},
                       "password": {"type": "string", "minLength": 8,
                                    "description": "a first password: "
                                    "kept as it is when the participant has one"}}}}}}
_COMPLETIONS = {"type": "object", "required": ["completions"], "properties": {"completions": {
    "type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["nip", "assignment_id"], "additionalProperties": False,
        "properties": {"nip": STR, "assignment_id": INT}}}}}
_REFUSED = ("422: nothing stored; params.problems lists every bad record as {index, problem} "
            "(its index in the array)")
API.update({
    "/api/v1/admin/programs": {"get": _op(
        "Every program", _json("Programs", {"type": "object", **_fields({
            "programs": {"type": "array", "items": _ref("AdminProgram")}})}), errors=())},
    "/api/v1/admin/programs/{program_id}": {"get": _op(
        "A program with its materi, exams and assignments",
        _json("Program", _ref("AdminProgramDetail")), params=[PROGRAM])},
    "/api/v1/admin/programs/{program_id}/materi": {"get": _op(
        "The program's materi", _json("Materi", {"type": "object", **_fields({
            "materi": {"type": "array", "items": _ref("AdminMateri")}})}), params=[PROGRAM])},
    "/api/v1/admin/programs/{program_id}/exams": {"get": _op(
        "The program's exams", _json("Exams", {"type": "object", **_fields({
            "exams": {"type": "array", "items": _ref("AdminExam")}})}), params=[PROGRAM])},
    "/api/v1/admin/programs/{program_id}/exams/{exam_id}": {"get": _op(
        "One exam of the program (an exam of another program is 404)",
        _json("Exam", _ref("AdminExam")), params=[PROGRAM, _path_id("exam_id")])},
    "/api/v1/admin/programs/{program_id}/participants": {"post": _op(
        "Enrol a roster: register (or update the name and unit of) and enrol every "
        "participant, or nobody; idempotent by NIP. " + _REFUSED,
        _json("Enrolled", {"type": "object", **_fields({"program_id": INT,
                                                         "participants": INT})}),
        params=[PROGRAM], body=_ROSTER, errors=(400, 404, 415, 422))},
    "/api/v1/admin/programs/{program_id}/completions": {"post": _op(
        "Mark assignments done for enrolled participants, all or none; idempotent (a "
        "completion already stored stays the first one). " + _REFUSED,
        _json("Marked", {"type": "object", **_fields({
            "program_id": INT, "completions": INT,
            "stored": {"type": "integer", "description": "completions new with this "
                       "request"}})}),
        params=[PROGRAM], body=_COMPLETIONS, errors=(400, 404, 415, 422))},
    "/api/v1/admin/programs/{program_id}/results": {"get": _op(
        "Results of the program's finished attempts with updated_since < finished_at <= "
        "next_updated_since, in the order they finished, page by page (a page past the end "
        "is empty). Poll: read the pages until `more` is false, then ask again from that "
        "`next_updated_since`; nothing is sent twice or missed",
        _json("Page", {"type": "object", **_fields({
            "program_id": INT, "results": {"type": "array", "items": _ref("AdminResult")},
            "page": INT, "per_page": INT, "total": INT, "more": BOOL,
            "next_updated_since": TIME})}),
        params=[PROGRAM,
                {"name": "updated_since", "in": "query", "schema": STR, "description":
                 "ISO 8601 date or date and time (without an offset: the program's zone)"},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
        errors=(404, 422))},
})

HTML = "text/html"
_STATUS = {200: "The page", 302: "Done: a redirect to the next page (Location)",
           400: "A request the server cannot read, or an expired or missing CSRF token",
           401: "Not logged in: the login page", 403: "This role may not use the page",
           404: "Not found", 409: "Refused by the exam policy (the reason on the page)",
           413: "The body is larger than the server accepts", 422: "The form is invalid: "
           "the page names the field", 429: "Too many failed logins",
           503: "The database cannot be reached; nothing was saved"}
# Every form carries the page's CSRF token (Flask-WTF); a missing or stale one is a 400.
CSRF_TOKEN = {"type": "string", "description": "the csrf_token of the page the form is on"}
ID_FIELD = {"type": "integer", "format": "int64", "minimum": 0}
LINES = {"type": "string", "description": "one option per line"}


@dataclass(frozen=True)
class Page:
    """What one page operation takes (query parameters, an urlencoded form or a multipart
    upload) and the statuses it answers with; its answers are HTML unless ``media`` says
    otherwise, its errors HTML unless ``json_errors``."""

    summary: str
    ok: tuple[int, ...] = (200,)
    errors: tuple[int, ...] = ()
    query: Mapping[str, dict] = field(default_factory=dict)
    form: Mapping[str, dict] | None = None
    upload: Mapping[str, dict] | None = None
    required: tuple[str, ...] = ()
    media: str = HTML
    schema: dict = field(default_factory=lambda: {"type": "string"})
    json_errors: bool = False

    def operation(self) -> dict:
        responses = {}
        for status in self.ok:
            response: dict = {"description": _STATUS[status]}
            if status == 302:
                response["headers"] = {"Location": {"schema": STR}}
                response["content"] = {HTML: {"schema": STR}}
            else:
                response["content"] = {self.media: {"schema": self.schema}}
            responses[str(status)] = response
        errors = set(self.errors)
        op: dict = {"summary": self.summary, "responses": responses}
        if self.query:
            op["parameters"] = [{"name": name, "in": "query", "schema": schema}
                                for name, schema in self.query.items()]
        if self.form is not None or self.upload is not None:
            errors |= {400, 413}
            media = ("multipart/form-data" if self.upload is not None
                     else "application/x-www-form-urlencoded")
            properties = {**(self.form or {}), **(self.upload or {}), "csrf_token": CSRF_TOKEN}
            op["requestBody"] = {"required": True, "content": {media: {"schema": {
                "type": "object", "properties": properties,
                "required": [*self.required, "csrf_token"]}}}}
        for status in sorted(errors):
            op["responses"][str(status)] = _error(status, self.json_errors)
        return op


def _error(status: int, json_body: bool) -> dict:
    if json_body:
        return _ERROR
    return {"description": _STATUS[status], "content": {HTML: {"schema": STR}}}


ITEM_FORM = {"stem": STR, **{f"option_{x}": STR for x in "ABCDE"},
             "key": {"type": "string", "enum": list("ABCDE")},
             "model": {"type": "string", "enum": ["1pl", "2pl", "3pl"]},
             "a": NUM, "b": NUM, "c": NUM, "tag_id": ID_FIELD, "new_tag_code": STR,
             "new_tag_name": STR, "remove_image": INT,
             "kept_image": {"type": "string", "format": "byte"},
             "action": {"type": "string", "enum": ["preview", "save"]}}
ITEM_PICTURES = {"image": {"type": "string", "format": "binary"}}
STATUS_FORM = {"status": {"type": "string", "enum": ["draft", "reviewed", "pretest",
                                                     "operational", "retired"]},
               "reason": {"type": "string", "maxLength": 500},
               "confirm": {"type": "string", "enum": ["yes"]}}
UPLOAD = {"file": {"type": "string", "format": "binary"}}
BINARY = {"type": "string", "format": "binary"}
CERT_TEXT = {"type": "string", "maxLength": 200,
             "description": "one line, no control characters; empty: a blank line"}

DAY = {"type": "string", "format": "date", "description": "a day like 2026-12-31"}
REPORT_QUERY = {"from": DAY, "to": DAY, "exam_id": INT}
EXAM_FORM = {
    "code": STR, "title": STR,
    "kind": {"type": "string", "enum": ["pre_assessment", "materi", "ujikom"]},
    "materi_id": ID_FIELD, "assembly": {"type": "string", "enum": ["cat", "loft"]},
    "cut_score": NUM, "max_attempts": INT, "duration_s": INT, "min_items": INT,
    "max_items": INT,
    "window_opens_at": {"type": "string", "description": "in the program's time zone, "
                                                         "like 2025-01-31T08:00"},
    "window_closes_at": {"type": "string", "description": "in the program's time zone, "
                                                          "like 2025-01-31T17:00"}}
STATUS_ACTION = {"action": {"type": "string", "enum": ["archive", "unarchive", "delete"]}}
PART_FORM = {"code": STR, "title": STR, "action": {"type": "string", "enum": ["delete"]},
             "confirm": {"type": "string", "enum": ["yes"]}}

# The pages by endpoint and method.
PAGES: dict[tuple[str, str], Page] = {
    ("participant.home", "GET"): Page(
        "Start: to the login page, the participant's programs or the staff pages",
        ok=(302,)),
    ("participant.login", "GET"): Page("The participant login form", query={"next": STR}),
    ("participant.login", "POST"): Page(
        "Log in with NIP and password, then to `next` (a local path) or the programs",
        ok=(302,), errors=(401, 422, 429), form={"nip": STR, "password": STR, "next": STR},
        required=("nip", "password")),
    ("participant.logout", "POST"): Page("Log out", ok=(302,), form={}),
    ("participant.programs", "GET"): Page("Every exam of the participant's programs: open "
                                          "or locked and why, attempts, results"),
    ("participant.rules", "GET"): Page("The exam's rules before it starts: length, time, cut "
                                       "score, attempts; for a once-only exam the confirmation "
                                       "(a running attempt redirects to the exam page)",
                                       ok=(200, 302), errors=(404,)),
    ("participant.start", "POST"): Page("Start or resume the exam, then to the exam page; a "
                                        "once-only exam needs `confirm=yes` (else 422 and the "
                                        "rules page again)",
                                        ok=(302,), errors=(404, 409, 422),
                                        form={"confirm": STR}),
    ("participant.exam", "GET"): Page("The exam page of a running attempt (a finished one "
                                      "redirects to its result)", ok=(200, 302),
                                      errors=(404,)),
    ("participant.result", "GET"): Page("The result of a finished attempt (a running one "
                                        "redirects to the exam page)", ok=(200, 302),
                                        errors=(404,)),
    ("participant.certificate", "GET"): Page("The participant's own certificate, printable",
                                             errors=(404,)),
    ("participant.certificate_download", "GET"): Page(
        "The participant's own certificate as a PDF (A4 landscape, a download); anyone "
        "else's is 404", errors=(404,), media="application/pdf", schema=BINARY),
    ("participant.item_image", "GET"): Page(
        "Image `position` (from 1; the item's `images` says how many) of an item shown in the "
        "participant's own running attempt; 404 for anything else", errors=(404,),
        media="image/png", schema=BINARY),
    ("participant.certificate_logo", "GET"): Page(
        "The agency's logo (PNG) on the participant's own certificate; 404 without a logo "
        "and for anyone else's", errors=(404,), media="image/png", schema=BINARY),
    ("public.verify_form", "GET"): Page("The verification form, or the verdict on `number`",
                                        errors=(404,), query={"number": STR}),
    ("public.verify", "GET"): Page("Whether a certificate number is valid (404: unknown)",
                                   errors=(404,)),
    ("public.health", "GET"): Page(
        "200 when the database answers", media="application/json", json_errors=True,
        schema={"type": "object", **_fields({"status": STR, "database": STR})}),
    ("public.metrics", "GET"): Page(
        "Prometheus metrics (text exposition format), with the bearer METRICS_TOKEN; 404 when "
        "the server has no such setting", errors=(401, 404), media="text/plain"),
    ("writer.login", "GET"): Page("The staff login form"),
    ("writer.login", "POST"): Page(
        "Log in as a writer or administrator, then to their pages", ok=(302,),
        errors=(401, 422, 429), form={"username": STR, "password": STR, "next": STR},
        required=("username", "password")),
    ("writer.items", "GET"): Page(
        "Items, 50 a page: search in stem and code, filters by program, materi, content tag, "
        "status, model and times shown, a sort and page numbers; 422 names every value the "
        "search cannot use", errors=(422,),
        query={"q": STR, "program_id": INT, "materi_id": INT, "content_tag_id": INT,
               "status": {"type": "string", "enum": ["draft", "reviewed", "pretest",
                                                     "operational", "retired"]},
               "model": {"type": "string", "enum": ["1pl", "2pl", "3pl"]},
               "shown_min": {"type": "integer", "minimum": 0},
               "shown_max": {"type": "integer", "minimum": 0},
               "sort": {"type": "string", "enum": ["code", "status", "b", "exposure",
                                                   "changed"]},
               "order": {"type": "string", "enum": ["asc", "desc"]},
               "page": {"type": "integer", "minimum": 1}}),
    ("writer.item_plot", "GET"): Page(
        "A plot of the item's statistics as SVG: its characteristic curve (`icc.svg`), "
        "information curve (`information.svg`) or times shown per day or week "
        "(`exposure.svg`); 404 for the curves of an item without parameters and the "
        "exposure of an item never shown", errors=(404,), media="image/svg+xml", schema=STR),
    ("writer.new_item", "GET"): Page("The new item form"),
    ("writer.new_item", "POST"): Page(
        "Create a draft item (options A-E, the key as a letter, a sub-materi chosen or new, "
        "pictures), then to its page; `action=preview` shows it as a participant would see "
        "it and stores nothing; 422 shows every problem next to its field, with what was "
        "typed", ok=(200, 302), errors=(404, 413, 422),
        form={"code": STR, "materi_id": ID_FIELD, "author": STR, **ITEM_FORM},
        upload=ITEM_PICTURES, required=("code", "materi_id", "stem", "option_A", "option_B",
                                        "key")),
    ("writer.edit_item", "GET"): Page("An item: its content, status and statistics",
                                      errors=(404,)),
    ("writer.edit_item", "POST"): Page(
        "Save the item's content as its next version, or preview it (`action=preview`); "
        "422 shows every problem next to its field", ok=(200, 302),
        errors=(404, 409, 413, 422), form=ITEM_FORM, upload=ITEM_PICTURES,
        required=("stem", "option_A", "option_B", "key")),
    ("writer.change_status", "POST"): Page(
        "Move the item along its lifecycle (draft, reviewed, pretest, operational, "
        "retired), with an audit entry; retiring needs `confirm=yes` and a `reason` (kept "
        "in the audit entry); a move the lifecycle does not allow is 422 and changes nothing",
        ok=(302,), errors=(404, 422), form=STATUS_FORM, required=("status",)),
    ("writer.add_enemy", "POST"): Page(
        "Mark the item and the item of `code` (same program) as enemies: they join one family, "
        "and no participant gets both; 422 for the item itself or a code of no item",
        ok=(302,), errors=(404, 422), form={"code": STR}, required=("code",)),
    ("writer.remove_enemy", "POST"): Page(
        "Remove the enemy mark between the two items (nothing without one)",
        ok=(302,), errors=(404,), form={}),
    ("writer.change_statuses", "POST"): Page(
        "Move every chosen item (`item_id`, repeated) to one status, all or none: 422 names "
        "every item that cannot move and changes nothing; retiring as for one item",
        ok=(302,), errors=(404, 422),
        form={"item_id": {"type": "array", "items": ID_FIELD}, **STATUS_FORM},
        required=("item_id", "status")),
    ("writer.export_items", "GET"): Page(
        "One program's items as an item file, CSV or JSON (a download; the import's format)",
        errors=(404, 422), query={"program_id": INT}, media="application/octet-stream",
        schema=BINARY),
    ("writer.import_items", "POST"): Page(
        "Read an item file (CSV or JSON) for a program and show what importing it would "
        "create and change, or (422) every problem with its line and column; nothing is "
        "stored; `allow_operational` is an administrator's (403 for a writer)",
        errors=(403, 404, 422), upload=UPLOAD,
        form={"program_id": INT, "allow_operational": STR}, required=("file", "program_id")),
    ("writer.confirm_import", "POST"): Page(
        "Import the previewed item file (read again: all or none); `plan` is the preview's "
        "digest: 409 when the bank changed since, 404 once imported or an hour old",
        ok=(302,), errors=(403, 404, 409, 422), form={"plan": STR}),
    ("writer.preview_exchange", "POST"): Page(
        "Read a Moodle XML, GIFT, Aiken or QTI file (an item or a content package) for a "
        "materi and show what importing it would store, or (422) every refused question; "
        "nothing is stored", errors=(404, 422), upload=UPLOAD,
        form={"format": {"type": "string", "enum": ["moodle", "gift", "aiken", "qti"]},
              "materi_id": INT, "as_pretest": STR}, required=("file", "format", "materi_id")),
    ("writer.confirm_exchange", "POST"): Page(
        "Import the previewed file (read again: all or none); 404 once imported or an hour "
        "old", ok=(302,), errors=(404, 422), form={}),
    ("writer.export_exchange", "GET"): Page(
        "One program's items as a QTI 3.0 content package (zip) or a Moodle XML file, "
        "images included", errors=(404, 422), query={"program_id": INT},
        media="application/octet-stream", schema=BINARY),
    ("writer.calibration", "GET"): Page("Calibration: choose a program, materi and model; "
                                        "recent runs"),
    ("writer.start_calibration", "POST"): Page(
        "Ask for a calibration of the logged answers (a background job), then to the job",
        ok=(302,), errors=(404, 422),
        form={"program_id": ID_FIELD, "materi_id": ID_FIELD,
              "model": {"type": "string", "enum": ["rasch", "2pl", "3pl"]}},
        required=("program_id",)),
    ("writer.calibration_run", "GET"): Page("A calibration run: estimates, fit and drift",
                                            errors=(404,)),
    ("writer.calibration_job", "GET"): Page(
        "A calibration asked for: waiting or running (the page refreshes), failed with its "
        "reason, or done (to its run)", ok=(200, 302), errors=(404,)),
    ("writer.monitoring", "GET"): Page(
        "Leak monitoring: a program's operational items tested on their live answers, flagged "
        "under a false discovery rate", errors=(404, 422), query={"program_id": INT}),
    ("writer.accept_calibration", "POST"): Page(
        "Write the checked pretest items' estimates into the bank (operational)",
        ok=(302,), errors=(404, 422), form={"item_id": {"type": "array", "items": ID_FIELD}},
        required=("item_id",)),
    ("admin.index", "GET"): Page("Programs, and the form for a new one"),
    ("admin.create_program", "POST"): Page(
        "Create a program", ok=(302,), errors=(422,), form={"code": STR, "name": STR},
        required=("code", "name")),
    ("admin.program", "GET"): Page(
        "A program: materi, exams, assignments, certificate, roster", errors=(404,)),
    ("admin.certificate", "POST"): Page(
        "Set what the program's certificates print: agency name, signatory, title, place "
        "and (when a file is sent) the logo, a PNG or JPEG of at most 512 KB and 2000 × 2000 "
        "px, stored re-encoded as PNG; all or nothing (422 names a refused text or logo)",
        ok=(302,), errors=(404, 422),
        form={"agency_name": CERT_TEXT, "signatory": CERT_TEXT, "signatory_title": CERT_TEXT,
              "place": CERT_TEXT, "remove_logo": {"type": "string", "enum": ["yes"]}},
        upload={"logo": {"type": "string", "format": "binary"}}),
    ("admin.program_logo", "GET"): Page("The program's certificate logo as stored (PNG); 404 "
                                        "without one", errors=(404,), media="image/png",
                                        schema=BINARY),
    ("admin.create_materi", "POST"): Page(
        "Add a materi to the program", ok=(302,), errors=(404, 422),
        form={"code": STR, "name": STR}, required=("code", "name")),
    ("admin.create_exam", "POST"): Page(
        "Add an exam to the program; refused (422), the exam form again with every error "
        "and what was typed", ok=(302,), errors=(404, 422), form=EXAM_FORM,
        required=("code", "title", "kind")),
    ("admin.edit_program", "GET"): Page(
        "The program's edit form: code, name and every setting with its default and the "
        "value in force", errors=(404,)),
    ("admin.edit_program", "POST"): Page(
        "Save the program's code, name and settings (a blank setting: the default); 422 the "
        "form again with every error, 409 when it was saved by someone else since the form's "
        "version", ok=(302,), errors=(404, 409, 422),
        form={"version": INT, "code": STR, "name": STR, **{name: STR for name in SETTINGS}},
        required=("version", "code", "name")),
    ("admin.clone_program", "GET"): Page("The form for a copy of the program for a new cohort",
                                         errors=(404,)),
    ("admin.clone_program", "POST"): Page(
        "Copy the program (settings, certificate, materi, exams in use, assignments; no "
        "participants, attempts, results or items) under a new code", ok=(302,),
        errors=(404, 422), form={"code": STR, "name": STR}, required=("code", "name")),
    ("admin.program_status", "GET"): Page(
        "Asks to confirm archiving, bringing back or deleting the program", errors=(404,)),
    ("admin.program_status", "POST"): Page(
        "Archive the program, bring it back, or delete it (none with attempts or items)",
        ok=(302,), errors=(404, 422), form=STATUS_ACTION, required=("action",)),
    ("admin.edit_exam", "GET"): Page("The exam's edit form with its values", errors=(404,)),
    ("admin.edit_exam", "POST"): Page(
        "Save the exam, checked like a new one; what its attempts and results fix is refused; "
        "422 the form again with every error, 409 when saved by someone else since the "
        "form's version", ok=(302,), errors=(404, 409, 422),
        form={"version": INT, **EXAM_FORM}, required=("version", "code", "title", "kind")),
    ("admin.exam_status", "GET"): Page(
        "Asks to confirm archiving, bringing back or deleting the exam", errors=(404,)),
    ("admin.exam_status", "POST"): Page(
        "Archive the exam (none running), bring it back (checked like a new exam), or delete "
        "it (none with attempts)", ok=(302,), errors=(404, 422), form=STATUS_ACTION,
        required=("action",)),
    ("admin.edit_materi", "GET"): Page("A materi's edit form, and its deletion", errors=(404,)),
    ("admin.edit_materi", "POST"): Page(
        "Save a materi's code and name, or (action delete, confirm yes) delete one without "
        "exams and items", ok=(302,), errors=(404, 422), form=PART_FORM),
    ("admin.edit_assignment", "GET"): Page("An assignment's edit form, and its deletion",
                                           errors=(404,)),
    ("admin.edit_assignment", "POST"): Page(
        "Save an assignment's code and title, or (action delete, confirm yes) delete one "
        "nobody was marked done for", ok=(302,), errors=(404, 422), form=PART_FORM),
    ("admin.create_assignment", "POST"): Page(
        "Add an assignment to the program", ok=(302,), errors=(404, 422),
        form={"code": STR, "title": STR}, required=("code", "title")),
    ("admin.import_roster", "POST"): Page(
        "Enrol a roster CSV (nip,name[,unit][,password]): every row or none",
        ok=(302,), errors=(404, 422), upload=UPLOAD, required=("file",)),
    ("admin.mark_done", "POST"): Page(
        "Mark an assignment done for a participant of the program", ok=(302,),
        errors=(404, 422), form={"nip": STR}, required=("nip",)),
    ("admin.live", "GET"): Page(
        "Running attempts of every program (program, exam, times in the program's zone, time "
        "left, extensions) with the invigilator's actions; refreshes itself unless paused",
        query={"pause": {"type": "string", "enum": ["1"]}}),
    ("admin.roster", "GET"): Page(
        "The program's participants with their progress (exams passed, attempts used and "
        "left, assignments done, certificate), searched by NIP or name, 25 a page",
        errors=(400, 404), query={"q": STR, "page": INT}),
    ("admin.roster_export", "GET"): Page(
        "The roster with progress as CSV (no cell starts a formula)", errors=(404,),
        query={"q": STR}, media="text/csv", schema=STR),
    ("admin.completions", "POST"): Page(
        "Assignment completions from a CSV (a NIP per line, optionally ,assignment code): "
        "without confirm a preview (nothing stored), with confirm=yes and the previewed text "
        "every line marked or none; 422 names every bad line",
        ok=(200, 302), errors=(404, 422), upload=UPLOAD,
        form={"assignment_id": ID_FIELD, "confirm": {"type": "string", "enum": ["yes"]},
              "text": {"type": "string", "maxLength": 200_000}}),
    ("admin.undo_completion", "POST"): Page(
        "Take back an assignment's completion for a participant (audited)", ok=(302,),
        errors=(404,), form={}),
    ("admin.extend_attempt", "POST"): Page(
        "Extend a running attempt's time by 1-120 minutes (120 in all) for a recorded reason "
        "(audited); 422 shows the live page with the refusal and what was typed",
        ok=(302,), errors=(404, 422),
        form={"minutes": {"type": "integer", "minimum": 1, "maximum": 120},
              "reason": {"type": "string", "maxLength": 500}},
        required=("minutes", "reason")),
    ("admin.end_attempt", "GET"): Page("Asks to confirm ending a running attempt",
                                       errors=(404,)),
    ("admin.end_attempt", "POST"): Page(
        "End a running attempt now, graded as a finished attempt (audited); nothing once it "
        "is final", ok=(302,), errors=(404,), form={}),
    ("admin.report", "GET"): Page(
        "The program's report: participants, attempts, pass rates per materi and attempt "
        "number, score histograms, time taken, item exposure, certificates; `from` and `to` "
        "are days in the program's time zone, `exam_id` one exam of the program",
        errors=(404, 422), query=REPORT_QUERY),
    ("admin.report_chart", "GET"): Page(
        "One chart of the report as SVG: `chart` is `attempt-numbers` or `scores-<slot>`; 404 "
        "for a chart the report does not have", errors=(404, 422),
        query={"chart": STR, **REPORT_QUERY},
        media="image/svg+xml", schema=STR),
    ("admin.report_csv", "GET"): Page(
        "The report's tables as one CSV file, Indonesian headers (a download)",
        errors=(404, 422), query=REPORT_QUERY, media="text/csv", schema=STR),
    ("admin.report_xlsx", "GET"): Page(
        "The report's tables as an XLSX workbook, one sheet each, Indonesian headers "
        "(a download)", errors=(404, 422), query=REPORT_QUERY,
        media="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        schema=BINARY),
    ("admin.tokens", "GET"): Page("Service tokens"),
    ("admin.tokens", "POST"): Page(
        "Create a service token (shown once on the page) with its scopes (at least one)",
        errors=(422,), form={"name": STR, "scope": {"type": "array", "items": {
            "type": "string", "enum": list(bank.SERVICE_SCOPES)}}},
        required=("name", "scope")),
    ("admin.revoke_token", "GET"): Page("Asks to confirm the revocation of a service token",
                                        errors=(404,)),
    ("admin.revoke_token", "POST"): Page(
        "Revoke a service token: the certification API refuses it from then on", ok=(302,),
        errors=(404,), form={}),
    ("admin.end_sessions", "GET"): Page("Asks to confirm ending every session of a participant",
                                        errors=(404,)),
    ("admin.end_sessions", "POST"): Page(
        "End every session of a participant (on every device and worker), with an audit entry",
        ok=(302,), errors=(404,), form={}),
    ("logins.index", "GET"): Page("The login throttle: accounts, addresses and pairs refused "
                                  "or delayed now, with their failures and until when"),
    ("logins.reset", "GET"): Page("Asks to confirm a reset of the login throttle",
                                  errors=(422,), query={"account": STR, "address": STR}),
    ("logins.reset", "POST"): Page(
        "Forget the failed logins of an account, an address or a pair", ok=(302,),
        errors=(422,), form={"account": STR, "address": STR}),
    ("static", "GET"): Page("A static file (style sheet, script)", errors=(404,),
                            media="*/*", schema={}),
}

# Which credential each role shows: participants and staff a session cookie (set by their
# login), the certification service a bearer token, which wins over a cookie.
SCHEMES = {"participant": "participantSession", "writer": "staffSession",
           "admin": "staffSession", "service": "serviceToken"}
SECURITY_SCHEMES = {
    "participantSession": {
        "type": "apiKey", "in": "cookie", "name": "session",
        "description": "Set by POST /api/v1/session or POST /login. API changes must be "
                       "sent as JSON; page forms carry the page's CSRF token."},
    "staffSession": {
        "type": "apiKey", "in": "cookie", "name": "session",
        "description": "Set by POST /writer/login for a writer or an administrator (the "
                       "operation's x-roles say which). Forms carry the page's CSRF token."},
    "serviceToken": {"type": "http", "scheme": "bearer",
                     "description": "A token created by an administrator (/admin/tokens) "
                                    "with its scopes; an operation's x-scopes names the one "
                                    "it needs (without it: 403 missing_scope, params.scope)."},
}
LANG = {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["id", "en"]},
        "description": "the language of this page or message, kept in the session"}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """A URL rule as an OpenAPI path and its path parameters (by the rule's converters)."""
    params = []
    for converter, name in _ARGUMENT.findall(rule):
        if converter == "int":
            params.append(_path_id(name))
        else:
            schema = {"type": "string", "minLength": 1}
            if converter == "path":
                schema["description"] = "may contain /"
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _ARGUMENT.sub(r"{\2}", rule), params


def roles_of(app: Flask, endpoint: str) -> frozenset[str]:
    """The roles a route's view allows (``server.security.access``); static files are
    public."""
    if endpoint == "static":
        return frozenset({"anonymous"})
    return getattr(app.view_functions[endpoint], "access", frozenset())


def scope_of(app: Flask, endpoint: str) -> str | None:
    """The service token scope a route needs (``server.security.access``), if any."""
    return getattr(app.view_functions.get(endpoint), "scope", None)


def _operation(endpoint: str, path: str, method: str, roles: frozenset[str],
               params: list[dict], scope: str | None = None) -> dict:
    api_op = API.get(path, {}).get(method.lower())
    page = PAGES.get((endpoint, method))
    if api_op is not None:
        op = {**api_op, "responses": dict(api_op["responses"])}
    elif page is not None:
        op = page.operation()
    else:
        op = {"summary": endpoint, "x-undocumented": True,
              "responses": {"default": {"description": "not documented"}}}
    json_errors = api_op is not None or (page is not None and page.json_errors)
    op["operationId"] = f"{endpoint}.{method.lower()}"
    op["x-roles"] = sorted(roles)
    op["security"] = [] if "anonymous" in roles else [
        {scheme: []} for scheme in sorted({SCHEMES[role] for role in roles})]
    if "anonymous" not in roles:
        op["responses"]["401"] = _error(401, json_errors)
        op["responses"]["403"] = _error(403, json_errors)
    if scope is not None:
        # OpenAPI 3.0 lists scopes only for OAuth2: the bearer scheme's stay in x-scopes.
        op["x-scopes"] = [scope]
    if endpoint != "static":
        op["responses"]["503"] = _error(503, json_errors)
    # Every route refuses a NUL or a lone surrogate in its query arguments, path parameters
    # and body (server/inputs.py: 400 invalid_text), and a body over its limit (413).
    op["responses"].setdefault("400", _error(400, json_errors))
    if "requestBody" in op:
        op["responses"].setdefault("413", _error(413, json_errors))
    given = {p["name"] for p in op.get("parameters", ())}
    op["parameters"] = [*(p for p in params if p["name"] not in given),
                        *op.get("parameters", ()), LANG]
    op["responses"] = dict(sorted(op["responses"].items()))
    return op


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every route of ``app`` (HEAD and OPTIONS left out)."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        path, params = openapi_path(rule.rule)
        roles = roles_of(app, rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, path, method, roles, params, scope_of(app, rule.endpoint))
    return {
        "openapi": "3.0.3",
        "info": {"title": "SMART CAT exam server", "version": "1", "description": DESCRIPTION},
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": SCHEMAS},
        "paths": paths,
    }


DESCRIPTION = (
    "Every route of the server. Participants take timed exams through the pages or the JSON "
    "API under /api/v1; writers and administrators use the pages under /writer and /admin; "
    "the certification service pulls certificates from /api/v1/certificates and other "
    "systems (an LMS) use the administration API under /api/v1/admin with a bearer "
    "token of the scope the operation's x-scopes names. Each operation's x-roles names the "
    "roles allowed (anonymous: anyone) and its "
    "security the credential: the session cookie of a participant or of staff, or the "
    "service token. API errors are {error, code, params, message} with a 4xx or 5xx status; "
    "pages answer with HTML, errors too (except /healthz). What the exam policy says (a "
    "refusal, why an exam is locked, the next step) is a code with parameters and the "
    "message in the session's language (Bahasa Indonesia unless ?lang=en was chosen). Keys "
    "and item parameters are never part of any participant's response.")


@api.get("/openapi.json")
@access("anonymous")
def openapi():
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    document = app.extensions.get("smartcat_openapi")
    if document is None:
        document = app.extensions["smartcat_openapi"] = build_document(app)
    return jsonify(document)
