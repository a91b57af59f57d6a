"""Helpers shared by the writer and admin pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request, session
from sqlalchemy.exc import IntegrityError

from server import bank
from server.errors import BadInput
from server.i18n import N_
from server.inputs import parse_int


def form_int(name: str, *, required: bool = True, default: int | None = None,
             column: Any = None) -> int | None:
    """The whole number of a form field: within 64 bits, or within the type of ``column``
    (a mapped attribute such as ``bank.Materi.id``) for a value the database compares with
    it; a value stored in a column is also held to it when it is assigned (the models)."""
    raw = request.form.get(name, "").strip()
    if not raw:
        if required:
            raise BadInput(N_("%(name)s is required."), 422, "invalid_input", name=name)
        return default
    if column is None:
        return parse_int(raw, name)
    low, high = bank.int_range(column.property.columns[0].type)
    return parse_int(raw, name, low=low, high=high)


def form_float(name: str) -> float | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise BadInput(N_("%(name)s must be a number, not %(value)s."), 422, "invalid_input",
                       name=name, value=repr(raw)) from exc


def form_text(name: str, *, required: bool = True) -> str:
    value = request.form.get(name, "").strip()
    if required and not value:
        raise BadInput(N_("%(name)s is required."), 422, "invalid_input", name=name)
    return value


def saving(change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the item_bank function that makes a change (it is its own transaction); model
    validation errors and constraint violations become a 422 page, not a 500; a refusal
    that is a code (a DomainError) keeps it, so its page speaks the request's language."""
    try:
        return change(*args, **kwargs)
    except bank.DomainError:
        raise
    except IntegrityError as exc:
        # The database's own message names its constraints, not what a person did: the
        # refusals people meet are checked before (item_bank), this is the rest.
        raise BadInput(N_("Not saved: it conflicts with what is stored (a code already in "
                          "use, or a value the bank does not allow)."), 422,
                       "invalid_input") from exc
    except ValueError as exc:
        raise BadInput(N_("Not saved: %(detail)s"), 422, "invalid_input",
                       detail=str(exc)) from exc


def uploaded_text(name: str, choose: str) -> str:
    """The text of the UTF-8 file (a BOM is dropped) uploaded as form field ``name``;
    BadInput ``choose`` (a message marked with ``N_``) when no file was chosen."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        raise BadInput(choose, 422, "invalid_input")
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(N_("The file is not a UTF-8 CSV: %(detail)s"), 422, "invalid_input",
                       detail=str(exc)) from exc


def staff_actor() -> str:
    """The logged-in writer's or administrator's name, for what they change (never a form
    field: a client could send any name)."""
    return session.get("staff_name") or f"staff:{session.get('staff_id')}"
