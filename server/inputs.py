"""What a request may bring in: body size, JSON nesting, strings and integers.

- Body size: ``MAX_REQUEST_BYTES`` for every route, ``MAX_UPLOAD_BYTES`` for the views marked
  :func:`upload_route`.  A declared ``Content-Length`` over the limit is 413 before anything is
  read; a chunked body (no length) is read up to the limit (Werkzeug's stream limit) and
  refused with 413 as soon as it has sent more.  Installed before CSRF protection, which
  parses forms.
- JSON (request bodies and the writer's import file, through the app's JSON provider):
  nesting deeper than ``MAX_JSON_DEPTH`` is 400 before parsing (Python's parser would
  recurse until RecursionError), and every string in it is checked like the others.
- Strings: query arguments, path parameters, form fields and JSON strings are refused with
  400 when they hold a NUL character or a lone surrogate, which no database column can
  store and PostgreSQL cannot even compare (:func:`item_bank.models.limits.text_problem`);
  :func:`check_text` also holds a string to the length of the column it is meant for.
  What is stored is checked again against its column by the models.
- Integers of forms and query strings: :func:`parse_int`, within 64 bits or the field's
  own bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from server import bank
from server.errors import BadInput
from server.i18n import N_

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

TEXT_MESSAGES = {
    "nul": N_("%(name)s must not contain a NUL character."),
    "surrogate": N_("%(name)s is not valid text (it holds a lone surrogate)."),
    "too_long": N_("%(name)s is longer than %(limit)s characters."),
}


def upload_route(view: Callable) -> Callable:
    """Mark a view as a file upload: its body may be up to ``MAX_UPLOAD_BYTES``."""
    view.upload = True  # type: ignore[attr-defined]
    return view


def _limit_body() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    setting = "MAX_UPLOAD_BYTES" if getattr(view, "upload", False) else "MAX_REQUEST_BYTES"
    limit = current_app.config[setting]
    if request.content_length is not None:
        request.max_content_length = limit
        if request.content_length > limit:
            raise RequestEntityTooLarge()
    elif request.environ.get("wsgi.input_terminated"):
        # A body of unknown length (chunked).  Werkzeug's stream limit stops reading there
        # but hands over what it read as if it were the whole body, so read one byte more
        # than allowed to tell (at most limit + 1 bytes are ever held).
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            raise RequestEntityTooLarge()


def check_text(value: str, name: str, attribute: Any = None) -> str:
    """``value`` if a database can hold it (in the column of ``attribute``, a mapped string
    attribute such as ``bank.Participant.nip``, when given), else :class:`BadInput`."""
    limit = bank.max_length(attribute) if attribute is not None else None
    problem = bank.text_problem(value, limit)
    if problem == "too_long":
        raise BadInput(TEXT_MESSAGES[problem], 422, "invalid_input", name=name, limit=limit)
    if problem is not None:
        raise BadInput(TEXT_MESSAGES[problem], 400, "invalid_text", name=name)
    return value


def _check_request_text() -> None:
    for name, values in request.args.lists():
        check_text(name, "parameter")
        for value in values:
            check_text(value, name)
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(value, name)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, values in request.form.lists():
            if name is None:  # a multipart part without a name: Werkzeug keeps it under None
                raise BadInput(N_("Every part of a form needs a name."), 400, "bad_request")
            check_text(name, "field")
            for value in values:
                check_text(value, name)


def _check_request() -> None:
    """Before every view (one hook: each costs the dispatch of its own)."""
    _limit_body()
    _check_request_text()


def _check_json_text(value: Any, name: str) -> None:
    # Recursion is bounded: the document was checked against MAX_JSON_DEPTH before parsing.
    if isinstance(value, str):
        check_text(value, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, "key")
            _check_json_text(item, key)
    elif isinstance(value, list):
        for item in value:
            _check_json_text(item, name)


# JSON nesting is measured on the brackets outside strings: strings are blanked, everything
# but brackets dropped, then innermost pairs removed pass after pass; what is left after
# MAX_JSON_DEPTH passes is nested deeper.  Regular expressions keep this linear per pass
# and out of Python loops over the characters.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNER_PAIR = re.compile(r"\[\]|\{\}")


def _check_json_depth(text: str, limit: int) -> None:
    if text.count("[") + text.count("{") <= limit:
        return  # too few brackets to nest deeper, in strings or not (an answer has one)
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return
        reduced = _INNER_PAIR.sub("", brackets)
        if reduced == brackets:
            # Brackets that do not pair up: not JSON (and the parser could recurse on them).
            raise BadInput(N_("The body is not valid JSON."), code="malformed_json")
        brackets = reduced
    if brackets:
        raise BadInput(N_("The JSON is nested deeper than %(limit)s levels."), 400,
                       "json_too_deep", limit=limit)


class JSONProvider(DefaultJSONProvider):
    """The app's JSON: documents nested deeper than ``MAX_JSON_DEPTH`` or holding strings no
    database can store are :class:`BadInput`, before or right after parsing."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, bytes | bytearray):
            # As json.loads decodes bytes; a UnicodeDecodeError is a ValueError, "not JSON".
            s = s.decode(json.detect_encoding(s), "surrogatepass")
        _check_json_depth(s, self._app.config["MAX_JSON_DEPTH"])
        value = super().loads(s, **kwargs)
        _check_json_text(value, "value")
        return value


def parse_int(raw: str, name: str, *, low: int = INT64_MIN, high: int = INT64_MAX,
              status: int = 422) -> int:
    """``raw`` as a whole number in ``low..high`` (default: 64-bit), else :class:`BadInput`
    with ``status`` (422 for a form field; the API answers a bad query argument with 400)."""
    try:
        value = int(raw)
    except ValueError as exc:  # also more digits than Python converts
        raise BadInput(N_("%(name)s must be a whole number, not %(value)s."), status,
                       "invalid_input", name=name, value=repr(raw[:40])) from exc
    if not low <= value <= high:
        raise BadInput(N_("%(name)s must be within %(low)s..%(high)s."), status,
                       "invalid_input", name=name, low=low, high=high)
    return value


def query_int(name: str, default: int, *, low: int = INT64_MIN, high: int = INT64_MAX,
              status: int = 422) -> int:
    """The query argument ``name`` by :func:`parse_int`, ``default`` when absent or empty."""
    raw = request.args.get(name, "").strip()
    return parse_int(raw, name, low=low, high=high, status=status) if raw else default


def init_app(app: Flask) -> None:
    """Install the body limit and the string check; call before CSRF protection is set up."""
    app.json = JSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.before_request(_check_request)
