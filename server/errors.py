"""The one place where errors become HTTP responses.

Domain errors raised by the item_bank policy map to status codes here; under ``/api/v1`` the
body is JSON ``{"error": code, "message": text}``, elsewhere an HTML page that says what is
wrong.  Bad input never reaches a 500: request parsing raises :class:`BadInput`.  An
unreachable database is 503 with ``Retry-After`` (JSON under ``/api/v1`` and ``/healthz``).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from server import bank

log = logging.getLogger(__name__)

# Domain error class -> HTTP status.  Checked in order, so subclasses come first.
DOMAIN_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (bank.NotFound, 404),
    (bank.Forbidden, 403),
    (bank.InvalidInput, 422),
    (bank.Locked, 409),
    (bank.BankExhausted, 409),
    (bank.Conflict, 409),
)


class BadInput(Exception):
    """A request the server cannot read (malformed JSON, missing field, wrong type): 400."""

    code = "bad_request"

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        if code:
            self.code = code


# Database unreachable (down, restarting, connection cut, SQLite lock wait exhausted) or no
# pooled connection free in time: the request did not happen, so 503 and "try again" are the
# truth; the policy's transaction was rolled back, and a stale pooled connection is replaced
# (item_bank.db).
DATABASE_UNAVAILABLE = (OperationalError, DisconnectionError, PoolTimeout)
RETRY_AFTER_SECONDS = 2


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, code: str, message: str) -> Response:
    if wants_json():
        response = jsonify(error=code, message=message)
    else:
        response = Response(render_template("error.html", status=status, code=code,
                                            message=message))
    response.status_code = status
    return response


def domain_status(exc: Exception) -> int:
    for cls, status in DOMAIN_STATUS:
        if isinstance(exc, cls):
            return status
    return int(getattr(exc, "status", 400) or 400)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(bank.DomainError)
    def _domain(exc: Exception) -> Response:
        return error_response(domain_status(exc), exc.error, str(exc))

    @app.errorhandler(BadInput)
    def _bad_input(exc: BadInput) -> Response:
        return error_response(exc.status, exc.code, str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(400, "csrf", "The form expired or was not sent by this site; "
                              "reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def _database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        response = error_response(503, "database_unavailable",
                                  "The database cannot be reached right now; nothing was saved "
                                  "by this request. Try again in a few seconds.")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, _database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "Internal error; it has been logged.")
