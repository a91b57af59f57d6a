"""Helpers shared by the writer and admin pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError

from server.errors import BadInput
from server.extensions import db
from server.i18n import N_


def form_int(name: str, *, required: bool = True, default: int | None = None) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        if required:
            raise BadInput(N_("%(name)s is required."), 422, "invalid_input", name=name)
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise BadInput(N_("%(name)s must be a whole number, not %(value)s."), 422,
                       "invalid_input", name=name, value=repr(raw)) from exc


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


def commit(change: Callable[[], Any]) -> Any:
    """Run ``change`` and commit; model validation errors become a 422 page, not a 500."""
    session = db.session
    try:
        result = change()
        session.commit()
        return result
    except (ValueError, IntegrityError) as exc:
        session.rollback()
        message = str(exc.orig) if isinstance(exc, IntegrityError) else str(exc)
        raise BadInput(N_("Not saved: %(detail)s"), 422, "invalid_input",
                       detail=message) from exc
