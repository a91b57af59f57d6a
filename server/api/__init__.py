"""The JSON API under ``/api/v1``: one module per resource, documented in ``openapi.json``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, request

from server.errors import BadInput
from server.i18n import N_, Notice, notice_json

api = Blueprint("api", __name__, url_prefix="/api/v1")


# Field names per dataclass: ``dataclasses.fields`` rebuilds its tuple on every call, and every
# answer serializes a few nested dataclasses.
_FIELDS: dict[type, tuple[str, ...]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> Any:
    """Dataclasses, enums, dates and containers to plain JSON values; a Notice as
    ``{"code", "params", "message"}`` with the message in the request's language."""
    if isinstance(value, Notice):
        return notice_json(value)
    names = _FIELDS.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


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
    attempts,
    certificates,
    openapi,
    programs,
    session,
)
