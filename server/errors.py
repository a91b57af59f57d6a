"""The one place where errors become HTTP responses.

Every error has a kind (``error``) with one HTTP status, and a message written in the
request's language at render time (:mod:`server.i18n`).  Under ``/api/v1`` (and
``/healthz``) the body is JSON ``{"error": kind, "code": why, "params": {...}, "message":
text}``: for a refusal of the exam policy (:class:`item_bank.errors.DomainError`) ``code``
and ``params`` are its notice's (datetimes in ISO 8601), for the server's own errors
``code`` is the kind and ``params`` those of the message.  Elsewhere the answer is an HTML
page with the message.  Bad input never reaches a 500: request parsing raises
:class:`BadInput`.  An unreachable database is 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from server import bank
from server.i18n import N_, gettext, json_params, notice_text

log = logging.getLogger(__name__)

# The kind of a refusal of the exam policy (DomainError.error) -> HTTP status.
DOMAIN_STATUS: dict[str, int] = {
    "not_found": 404,
    "forbidden": 403,
    "invalid_input": 422,
    "conflict": 409,
    "locked": 409,
    "bank_exhausted": 409,
}

# What werkzeug's errors say, as catalog entries (its own descriptions are English only);
# an error with a description of its own (abort(status, text)) shows that text.
HTTP_MESSAGES: dict[int, str] = {
    400: N_("The browser sent a request that this server could not understand."),
    404: N_("The requested URL was not found on the server. If you entered the URL manually "
            "please check your spelling and try again."),
    405: N_("The method is not allowed for the requested URL."),
    413: N_("The data sent is larger than this server accepts."),
    415: N_("The server does not support the media type sent in the request."),
}
HTTP_MESSAGE_OTHER = N_("The request could not be handled (%(status)s %(name)s).")


class BadInput(Exception):
    """A request the server cannot read (malformed JSON, missing field, wrong type): 400.

    ``message`` is the English source text, marked with ``N_`` so that the catalog has it,
    with ``%(name)s`` placeholders for ``params``; :meth:`text` writes it in the request's
    language, ``str(exc)`` in English.
    """

    code = "bad_request"

    def __init__(self, message: str, status: int = 400, code: str | None = None,
                 **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.template = message
        self.params = params
        self.status = status
        if code:
            self.code = code

    def text(self) -> str:
        return gettext(self.template, **self.params) if self.params else gettext(self.template)


# Database unreachable (down, restarting, connection cut, SQLite lock wait exhausted) or no
# pooled connection free in time: the request did not happen, so 503 and "try again" are the
# truth; the policy's transaction was rolled back, and a stale pooled connection is replaced
# (item_bank.db).
DATABASE_UNAVAILABLE = (OperationalError, DisconnectionError, PoolTimeout)
RETRY_AFTER_SECONDS = 2


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, error: str, message: str, *, code: str | None = None,
                   params: Mapping[str, Any] | None = None) -> Response:
    """The error answer: ``message`` is already in the request's language; ``code`` (the
    reason, default ``error``) and ``params`` go into the JSON body."""
    if wants_json():
        response = jsonify(error=error, code=code or error, params=json_params(params or {}),
                           message=message)
    else:
        response = Response(render_template("error.html", status=status, code=error,
                                            message=message))
    response.status_code = status
    return response


def domain_status(exc: bank.DomainError) -> int:
    return DOMAIN_STATUS.get(exc.error, 400)


def domain_error_response(exc: bank.DomainError) -> Response:
    return error_response(domain_status(exc), exc.error, notice_text(exc.notice),
                          code=exc.code, params=exc.params)


def http_message(exc: HTTPException) -> str:
    """A werkzeug error's description in the request's language."""
    status = exc.code or 500
    if exc.description and exc.description != type(exc).description:
        return gettext(exc.description)
    if status in HTTP_MESSAGES:
        return gettext(HTTP_MESSAGES[status])
    return gettext(HTTP_MESSAGE_OTHER, status=status, name=exc.name)


def _another_method_matches(methods) -> bool:
    """Whether the request's path names a resource under one of ``methods``.  werkzeug answers
    405 as soon as a rule of another method has the path's shape, even when a converter then
    refuses the value for every rule (an id beyond 2**63 - 1 on a path served by GET and POST
    from two rules): that path names nothing, a 404."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(method=method)
        except RequestRedirect:
            return True
        except HTTPException:
            continue
        return True
    return False


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(bank.DomainError)
    def _domain(exc: bank.DomainError) -> Response:
        return domain_error_response(exc)

    @app.errorhandler(BadInput)
    def _bad_input(exc: BadInput) -> Response:
        return error_response(exc.status, exc.code, exc.text(), params=exc.params)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(400, "csrf", gettext(
            "The form expired or was not sent by this site; reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        if exc.code == 405 and not _another_method_matches(exc.valid_methods or ()):
            exc = NotFound()
        error = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, error, http_message(exc))
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def _database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        response = error_response(503, "database_unavailable", gettext(
            "The database cannot be reached right now; nothing was saved by this request. "
            "Try again in a few seconds."))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, _database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", gettext("Internal error; it has been logged."))
