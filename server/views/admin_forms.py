"""The administrator's forms that are re-rendered when refused: every error at once, with
what was typed (the exam form for a new and an edited exam, the program's edit form, ...).

A form is read field by field into :class:`FormErrors`, which keeps the message of every field
that is not what it should be; then the one item_bank function of the change is called, whose
refusals (:class:`item_bank.errors.Refusals`) are added; the page is rendered again with all
of them and ``request.form``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from sqlalchemy import select

from server import bank
from server.errors import BadInput, domain_status
from server.extensions import db
from server.i18n import FORMAT_LOCALES, N_, get_locale, notice_text, zone_abbreviation
from server.views.staff import form_float, form_int, form_text, saving

EXAM_KINDS = tuple(k.value for k in bank.ExamKind)


class FormErrors:
    """The messages of a refused form, in the page's language."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.status = 422

    def read(self, parse: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``parse(*args, **kwargs)``, or None with its message kept."""
        try:
            return parse(*args, **kwargs)
        except BadInput as exc:
            self.messages.append(exc.text())
            return None

    def save(self, change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """:func:`server.views.staff.saving` of ``change`` when nothing was refused so far;
        its refusals are kept (every one of a :class:`Refusals`); None when refused."""
        if self.messages:
            return None
        try:
            return saving(change, *args, **kwargs)
        except (bank.InvalidInput, bank.Conflict) as exc:
            notices = getattr(exc, "notices", (exc.notice,))
            self.messages += [notice_text(n) for n in notices]
            self.status = domain_status(exc)
        except BadInput as exc:
            self.messages.append(exc.text())
        return None


def zone_label(zone: str) -> str:
    """The program's time zone as the forms name it: ``WIB (Asia/Jakarta)``."""
    now = dt.datetime.now(ZoneInfo(zone))
    return f"{zone_abbreviation(now, zone, FORMAT_LOCALES[get_locale()])} ({zone})"


def local_when(name: str, zone: str) -> dt.datetime | None:
    """A ``datetime-local`` field, written in the program's zone ``zone``, as an aware time."""
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadInput(N_("%(name)s must be a date and time like 2025-01-31T08:00."), 422,
                       "invalid_input", name=name) from exc
    return value.replace(tzinfo=ZoneInfo(zone)) if value.tzinfo is None else value


def local_field(value: dt.datetime | None, zone: str) -> str:
    """An aware time as a ``datetime-local`` field shows it, in the program's zone."""
    return "" if value is None else value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def exam_form_values(program: Any, errors: FormErrors) -> dict[str, Any]:
    """The exam form's fields (kind, materi, assembly, code and the numbers) as the item_bank
    functions take them; each field that cannot be read leaves its message in ``errors``."""
    kind = request.form.get("kind", "")
    if kind not in EXAM_KINDS:
        errors.messages.append(BadInput(N_("Unknown exam kind %(kind)s."), 422,
                                        "invalid_input", kind=repr(kind)).text())
        kind = None
    materi_id = errors.read(form_int, "materi_id", required=False, column=bank.Materi.id)
    materi = None if materi_id is None else db.session.get(bank.Materi, materi_id)
    if materi_id is not None and (materi is None or materi.program_id != program.id):
        raise bank.NotFound("materi_not_found", materi=materi_id)
    assembly = request.form.get("assembly", "cat")
    if assembly not in {a.value for a in bank.Assembly}:
        errors.messages.append(BadInput(N_("Unknown assembly %(assembly)s."), 422,
                                        "invalid_input", assembly=repr(assembly)).text())
    zone = program.settings.timezone
    values = {"code": request.form.get("code", ""), "kind": kind, "materi": materi,
              "assembly": assembly,
              "title": errors.read(form_text, "title"),
              "cut_score": errors.read(form_float, "cut_score"),
              "window_opens_at": errors.read(local_when, "window_opens_at", zone),
              "window_closes_at": errors.read(local_when, "window_closes_at", zone)}
    for name in ("max_attempts", "duration_s", "min_items", "max_items"):
        values[name] = errors.read(form_int, name, required=False)
    return values


def exam_form(program: Any, exam: Any, errors: FormErrors | None = None):
    """The exam form page (a new exam when ``exam`` is None), with ``errors`` and what was
    typed when refused, else the exam's values."""
    zone = program.settings.timezone
    if errors is not None:
        typed = request.form
    elif exam is None:
        typed = {}
    else:
        typed = {name: getattr(exam, name) for name in (
            "code", "title", "cut_score", "max_attempts", "duration_s", "min_items",
            "max_items")} | {"kind": exam.kind.value, "materi_id": exam.materi_id or "",
                             "assembly": exam.assembly.value, "version": exam.version,
                             "window_opens_at": local_field(exam.window_opens_at, zone),
                             "window_closes_at": local_field(exam.window_closes_at, zone)}
    materi = db.session.scalars(select(bank.Materi).where(
        bank.Materi.program_id == program.id).order_by(bank.Materi.id)).all()
    page = render_template("admin/exam_form.html", program=program, exam=exam, typed=typed,
                           errors=errors.messages if errors else [], materi=materi,
                           settings=program.settings, zone=zone_label(zone))
    return page, (errors.status if errors else 200)

