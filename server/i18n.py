"""Participant pages speak Bahasa Indonesia by default and English on request.

Texts are translated by Flask-Babel from the message catalog in ``server/translations``
(``messages.pot`` extracted from the server's Python and templates and from
``item_bank/messages.py``; ``id/LC_MESSAGES/messages.po`` and its compiled ``.mo``).  English
is the source language: an English page shows the source texts, and a text without an
Indonesian translation falls back to English.  ``make messages`` extracts, updates and
compiles the catalog (see docs/server.md, "Languages").

The language of a request is :func:`get_locale`: ``?lang=id`` or ``?lang=en`` (remembered in
the session), else the session's, else the ``DEFAULT_LOCALE`` setting ("id").

What the exam policy says (a refusal, why an exam is locked, the next step) is an
:class:`item_bank.messages.Notice`, a code with parameters; :func:`notice_text` writes it in
the request's language: the catalog's translation of its English source text, with dates
and times in the program's time zone (the notice's ``timezone`` parameter, else UTC).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from flask import Flask, current_app, has_app_context, has_request_context, request, session
from flask_babel import Babel, gettext, ngettext

from item_bank.messages import ITEM_STATUS_LABELS, N_, Notice
from item_bank.models import ItemStatus

__all__ = ["LOCALES", "N_", "Notice", "format_date_local", "format_datetime_local",
           "format_number",
           "format_param", "format_score", "get_locale", "gettext", "init_app", "json_params",
           "ngettext", "notice_json", "notice_text"]

LOCALES = ("id", "en")

# Babel's locale data used to write dates, times and numbers in each language.  English
# pages write dates day first, as Indonesia does ("31 January 2025, 08:00"): British English.
FORMAT_LOCALES = {"id": Locale.parse("id"), "en": Locale.parse("en_GB")}

# Indonesia's zones by their Indonesian abbreviations in every language (Babel's English
# data has only "+0700" for them).
ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


def get_locale() -> str:
    """The language of this request: ``?lang`` (kept in the session), the session's, or
    ``DEFAULT_LOCALE``; outside a request the default, outside the app English."""
    if not has_app_context():
        return "en"  # no catalog is loaded outside the app: the English source texts
    default = current_app.config.get("DEFAULT_LOCALE", "id")
    if not has_request_context():
        return default
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    lang = session.get("lang")
    if lang in LOCALES:
        return lang
    return default


def _format_locale() -> Locale:
    return FORMAT_LOCALES.get(get_locale(), FORMAT_LOCALES["en"])


def zone_abbreviation(local: dt.datetime, zone: str, locale: Locale) -> str:
    """``WIB`` / ``WITA`` / ``WIT`` for Indonesia's zones, else Babel's short zone name."""
    return ZONE_ABBREVIATIONS.get(zone) or format_datetime(local, "z", locale=locale)


def _local(value: dt.datetime, zone: str | None) -> tuple[dt.datetime, str]:
    """``value`` (naive: UTC) in ``zone`` (an IANA name, else UTC), and the zone's name."""
    name = zone or "UTC"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(name)), name


def format_date_local(value: dt.datetime, zone: str | None = None) -> str:
    """The day of ``value`` in ``zone`` (an IANA name, else UTC), Babel's long date in the
    request's language: ``2 Desember 2026`` / ``2 December 2026`` (a certificate's date)."""
    local, _name = _local(value, zone)
    return format_date(local, "long", locale=_format_locale())


def format_score(value: float) -> str:
    """A 0-100 score with one decimal in the request's language: ``87,5`` / ``87.5``."""
    return format_decimal(value, "0.0", locale=_format_locale())


def format_number(value: float, pattern: str = "0.00") -> str:
    """A number by a Babel pattern in the request's language: ``0,53`` / ``0.53``."""
    return format_decimal(value, pattern, locale=_format_locale())


def format_datetime_local(value: dt.datetime, zone: str | None = None) -> str:
    """``value`` in ``zone`` (an IANA name, else UTC) in the request's language:
    ``31 Januari 2025 pukul 08.00 WIB`` / ``31 January 2025, 08:00 WIB``."""
    local, name = _local(value, zone)
    locale = _format_locale()
    # TRANSLATORS: a date and a time of day, then the time zone (WIB, WITA, WIT, UTC).
    return gettext("%(date)s, %(time)s %(zone)s",
                   date=format_date(local, "long", locale=locale),
                   time=format_time(local, "short", locale=locale),
                   zone=zone_abbreviation(local, name, locale))


def format_param(value: Any, zone: str | None = None) -> Any:
    """A notice parameter as its text needs it: datetimes by :func:`format_datetime_local`,
    dates in the long form, fractional numbers with the language's decimal sign, an item's
    status by its label, a notice (one item's refusal among several) and a list of them as
    their texts; whole numbers, codes and other text as they are."""
    if isinstance(value, dt.datetime):
        return format_datetime_local(value, zone)
    if isinstance(value, dt.date):
        return format_date(value, "long", locale=_format_locale())
    if isinstance(value, float):
        # Babel's decimal quantizing fails beyond its 28 digits (a typed 1e25): such a
        # number is written in scientific notation, as it was most likely typed.
        if not abs(value) < 1e15:
            return f"{value:.6g}"
        return format_decimal(value, locale=_format_locale())
    if isinstance(value, ItemStatus):
        return gettext(ITEM_STATUS_LABELS[value])
    if isinstance(value, Notice):
        return notice_text(value)
    if isinstance(value, tuple | list):
        return "; ".join(str(format_param(v, zone)) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def notice_text(notice: Notice) -> str:
    """``notice`` in the request's language: the catalog's translation of its English
    source text, formatted with its parameters (see :func:`format_param`)."""
    zone = notice.params.get("timezone")
    params = {name: format_param(value, zone) for name, value in notice.params.items()}
    return gettext(notice.template, **params) if params else gettext(notice.template)


def json_value(value: Any) -> Any:
    """A parameter as JSON: datetimes and dates in ISO 8601, enums by value, containers
    element by element; numbers, text, booleans and null as they are."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Notice):
        return {"code": value.code, "params": json_params(value.params)}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a notice or an error as JSON-safe values."""
    return {str(name): json_value(value) for name, value in params.items()}


def notice_json(notice: Notice) -> dict[str, Any]:
    """``{"code", "params", "message"}``: the notice for the API, its message localized."""
    return {"code": notice.code, "params": json_params(notice.params),
            "message": notice_text(notice)}


def status_label(status: ItemStatus | str) -> str:
    """An item status as the page's language names it (the Jinja global ``status_label``)."""
    return gettext(ITEM_STATUS_LABELS[ItemStatus(status)])


def _notice_or_empty(notice: Notice | None) -> str:
    """The Jinja global ``notice(n)``: a Notice in the page's language ("" for None)."""
    return "" if notice is None else notice_text(notice)


def init_app(app: Flask) -> None:
    """Flask-Babel with :func:`get_locale`; time zones stay the programs' own (no Babel
    timezone selector).  Templates get ``_``/``gettext``/``ngettext`` from Flask-Babel and
    the globals ``get_locale()``, ``notice(n)`` and ``status_label(s)``."""
    Babel(app, locale_selector=get_locale,
          default_locale=app.config.get("DEFAULT_LOCALE", "id"),
          default_translation_directories="translations")
    app.jinja_env.globals.update(get_locale=get_locale, notice=_notice_or_empty,
                                 local_time=format_datetime_local, local_date=format_date_local,
                                 format_score=format_score, format_number=format_number,
                                 status_label=status_label)
