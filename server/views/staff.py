"""Helpers shared by the writer and admin pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError

from server.errors import BadInput
from server.extensions import db


def form_int(name: str, *, required: bool = True, default: int | None = None) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        if required:
            raise BadInput(f"{name} is required.", 422, "invalid_input")
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise BadInput(f"{name} must be a whole number, not {raw!r}.", 422,
                       "invalid_input") from exc


def form_float(name: str) -> float | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise BadInput(f"{name} must be a number, not {raw!r}.", 422, "invalid_input") from exc


def form_text(name: str, *, required: bool = True) -> str:
    value = request.form.get(name, "").strip()
    if required and not value:
        raise BadInput(f"{name} is required.", 422, "invalid_input")
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
        raise BadInput(f"Not saved: {message}", 422, "invalid_input") from exc
