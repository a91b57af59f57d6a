"""The JSON API under ``/api/v1``: one module per resource, documented in ``openapi.json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Blueprint, Response, request

from server.errors import BadInput
from server.i18n import N_, Notice, notice_json

api = Blueprint("api", __name__, url_prefix="/api/v1")


# Field names per dataclass: ``dataclasses.fields`` rebuilds its tuple on every call, and every
# answer serializes a few nested dataclasses.
_FIELDS: dict[type, tuple[str, ...]] = {}
# orjson writes what Flask's JSON would (keys sorted, ISO dates, enums by value, numpy numbers,
# non-string keys as strings) and hands every dataclass to :func:`_plain_json`, which needs
# only one level of it: orjson walks the rest.  One answer's reply takes a fraction of the CPU
# of the standard library's encoder and a Python walk over the view.
_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
            | orjson.OPT_PASSTHROUGH_DATACLASS)


def _plain_json(value: Any) -> Any:
    """One level of what orjson does not write itself: a Notice as ``{"code", "params",
    "message"}`` with the message in the request's language, a dataclass as its fields, other
    mappings as dicts and sets as lists."""
    if isinstance(value, Notice):
        return notice_json(value)
    names = _FIELDS.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` (views of the policy: dataclasses, enums, dates, containers) as a JSON
    response."""
    body = orjson.dumps(value, default=_plain_json, option=_OPTIONS) + b"\n"
    return Response(body, status=status, mimetype="application/json")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or :class:`BadInput` saying what is wrong with it."""
    if not request.is_json:
        raise BadInput(N_("Send the body as JSON with Content-Type: application/json."), 415,
                       "unsupported_media_type")
    data = request.get_json(silent=True)
    if data is None:
        raise BadInput(N_("The body is not valid JSON."), code="malformed_json")
    if not isinstance(data, dict):
        raise BadInput(N_("The body must be a JSON object."), code="malformed_json")
    return data


def field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *,
          required: bool = True,
          default: Any = None) -> Any:
    """``data[name]`` checked to be of ``kind`` (bool is never an int here)."""
    if name not in data or data[name] is None:
        if required:
            raise BadInput(N_("Field %(name)s is required."), 422, "invalid_input", name=name)
        return default
    value = data[name]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        raise BadInput(N_("Field %(name)s must be %(expected)s, got %(got)s."), 422,
                       "invalid_input", name=name, expected=expected, got=type(value).__name__)
    return value


# Path ids above 2**63-1 never reach a view: the app-wide ``int`` converter
# (server.IdConverter) does not match them, so they are a 404 like any unknown path.


@api.before_request
def _require_json_for_changes():
    """Cookie-authenticated changes must be JSON: a cross-site form cannot send that
    without a CORS preflight, which is how the API is safe from CSRF without tokens."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.is_json:
        raise BadInput(N_("Send the request with Content-Type: application/json."), 415,
                       "unsupported_media_type")


# Import the resource modules so their routes attach to the blueprint.
from server.api import (  # noqa: E402,F401
    admin,
    attempts,
    certificates,
    openapi,
    programs,
    session,
)
