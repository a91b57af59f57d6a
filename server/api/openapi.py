"""``/api/v1/openapi.json``: the OpenAPI 3 description of this API."""

from __future__ import annotations

from flask import jsonify

from server.api import api
from server.security import access

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": schema or {"type": "object"}}}}


def _op(summary: str, ok: dict, *, security: str | None = "session", body: dict | None = None,
        params: list | None = None, errors: tuple[int, ...] = (401, 404)) -> dict:
    op: dict = {"summary": summary, "responses": {"200": ok}}
    for status in errors:
        op["responses"][str(status)] = _ERROR
    if security:
        op["security"] = [{security: []}]
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "format": "int64", "minimum": 0}}


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

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "SMART CAT exam server", "version": "1",
             "description": "Participants take timed exams; the certification service pulls "
                            "certificates. Errors are {error, code, params, message} with a "
                            "4xx or 5xx status. What the exam policy says (a refusal, why an "
                            "exam is locked, the next step) is a code with parameters and the "
                            "message in the session's language (Bahasa Indonesia unless "
                            "?lang=en was chosen). Keys and item parameters are never part of "
                            "any response."},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "Set by POST /session. Changes must be sent as JSON."},
            "serviceToken": {"type": "http", "scheme": "bearer",
                             "description": "Token created by an administrator."},
        },
        "schemas": {
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
                     "(from the database clock).", **_fields({
                         "attempt_id": INT, "item_id": INT, "position": INT, "stem": STR,
                         "options": {"type": "array", "items": STR}, "answered": INT,
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
                           "cut_score": _null(NUM), "next_step": _ref("Notice")})},
            "ExamStatus": {"type": "object", "description": "One exam of a program for this "
                           "participant: open or locked (and why), attempts used, best score.",
                           **_fields({
                               "exam_id": INT, "code": STR, "title": STR, "kind": STR,
                               "materi_code": _null(STR), "attempts_used": INT,
                               "max_attempts": INT, "passed": BOOL, "best_score": _null(NUM),
                               "running_attempt_id": _null(INT), "available": BOOL,
                               "locked_reason": _null_ref("Notice"),
                               "available_from": _null(TIME)})},
            "ProgramStatus": {"type": "object", "description": "Where the participant stands "
                              "in a program, with the next step.", **_fields({
                                  "program_id": INT, "program_code": STR, "program_name": STR,
                                  "exams": {"type": "array", "items": _ref("ExamStatus")},
                                  "assignments_done": INT, "assignments_total": INT,
                                  "category": _null(STR), "certificate_number": _null(STR),
                                  "next_step": _ref("Notice")})},
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
        },
    },
    "paths": {
        "/session": {
            "post": _op("Log in with NIP and password (sets the session cookie)",
                        _json("Logged in"), security=None,
                        body={"$ref": "#/components/schemas/Login"}, errors=(400, 401, 415, 422,
                                                                             429)),
            "delete": _op("Log out (send it as JSON, like every change)", _json("Logged out"),
                          security=None, errors=(415,)),
            "get": _op("Who is logged in", _json("The participant")),
        },
        "/programs": {"get": _op("The participant's programs, each with its status",
                                 _json("Programs", {"type": "object", "required": ["programs"],
                                                    "properties": {"programs": {
                                                        "type": "array",
                                                        "items": _ref("ProgramStatus")}}}))},
        "/programs/{program_id}": {"get": _op(
            "Where the participant stands in one program: each exam locked or open, attempts "
            "used and left, results, certificate",
            _json("Program status", _ref("ProgramStatus")),
            params=[_path_id("program_id")])},
        "/exams/{exam_id}/attempts": {"post": {**_op(
            "Start an attempt, or resume the one in progress", _json(
                "Resumed", {"$ref": "#/components/schemas/Attempt"}),
            params=[_path_id("exam_id")], body=EMPTY, errors=(401, 404, 409, 415)),
            "responses": {"201": _json("Started or resumed",
                                       {"$ref": "#/components/schemas/Attempt"}),
                          "401": _ERROR, "404": _ERROR, "409": _ERROR, "415": _ERROR}}},
        "/attempts/{attempt_id}": {"get": _op("Attempt state and remaining time", _json(
            "Attempt", {"$ref": "#/components/schemas/Attempt"}), params=[ATTEMPT])},
        "/attempts/{attempt_id}/item": {"get": _op(
            "The current item, or the result when the attempt is finished",
            _json("{item} or {item: null, result}", {
                "type": "object", "required": ["item"], "properties": {
                    "item": {"nullable": True,
                             "allOf": [{"$ref": "#/components/schemas/Item"}]},
                    "result": {"$ref": "#/components/schemas/Result"}}}), params=[ATTEMPT])},
        "/attempts/{attempt_id}/answers": {"post": _op(
            "Answer the current item; sending the same answer again returns the same reply",
            _json("Saved", {"$ref": "#/components/schemas/AnswerOutcome"}), params=[ATTEMPT],
            body={"$ref": "#/components/schemas/Answer"},
            errors=(400, 401, 404, 409, 415, 422))},
        "/attempts/{attempt_id}/finish": {"post": _op(
            "Finish the attempt now.  With fewer answers than the exam's minimum (a CAT) or "
            "than its form (LOFT) the reply is 409 finish_needs_confirmation (params: "
            "answered, min_items or length, missing) unless confirm is true: the missing "
            "answers then count as wrong",
            _json("Result", {"$ref": "#/components/schemas/Result"}), params=[ATTEMPT],
            body={"$ref": "#/components/schemas/Finish"},
            errors=(400, 401, 404, 409, 415, 422))},
        "/attempts/{attempt_id}/result": {"get": _op("The result of a finished attempt", _json(
            "Result", {"$ref": "#/components/schemas/Result"}), params=[ATTEMPT],
            errors=(401, 404, 409))},
        "/certificates": {"get": _op(
            "Certificates issued after the cursor, oldest first; repeat with `next` until "
            "`more` is false. Pulling twice with the same cursor never duplicates.",
            _json("Page", {"type": "object", "properties": {
                "certificates": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Certificate"}},
                "next": {"type": "string"}, "more": {"type": "boolean"}}}),
            security="serviceToken", errors=(400, 401, 403),
            params=[{"name": "since", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}])},
        "/certificates/{number}": {"get": _op(
            "One certificate by number", _json("Certificate",
                                               {"$ref": "#/components/schemas/Certificate"}),
            security="serviceToken", errors=(400, 401, 403, 404),
            params=[{"name": "number", "in": "path", "required": True,
                     "schema": {"type": "string"}}])},
    },
}


@api.get("/openapi.json")
@access("anonymous")
def openapi():
    return jsonify(SPEC)
