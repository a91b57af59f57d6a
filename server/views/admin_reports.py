"""The administrator's report of a program (routes of the ``admin`` blueprint): the page with
its tables and charts, the charts as SVG, and the same tables as CSV and XLSX files."""

from __future__ import annotations

import datetime as dt
import io

from flask import Response, render_template, request, send_file
from flask.typing import ResponseReturnValue

from item_bank.reports import ProgramReport, program_report
from server import MAX_ID, bank, reporting
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.inputs import query_int
from server.security import access
from server.views.admin import bp

FILTERS = ("from", "to", "exam_id")


def _day(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise BadInput(N_("%(name)s must be a date like 2026-12-31, not %(value)s."), 422,
                       "invalid_input", name=name, value=repr(raw[:40])) from exc


def _report(program_id: int) -> ProgramReport:
    """The report that the request's filters ask for (``from``, ``to``: days in the program's
    time zone; ``exam_id``: one exam of the program)."""
    exam_id = query_int("exam_id", 0, low=0, high=MAX_ID) or None
    return program_report(db.session, program_id, first_day=_day("from"), last_day=_day("to"),
                          exam_id=exam_id)


def _filters() -> dict[str, str]:
    """The request's filters, for the links to the charts and the files."""
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


@bp.get("/programs/<int:program_id>/report")
@access("admin")
def report(program_id: int) -> ResponseReturnValue:
    """Participants, attempts, pass rates, scores, time taken, item exposure and
    certificates of a program, optionally for some days or one exam."""
    result = _report(program_id)
    return render_template("admin/report.html", report=result,
                           tables={t.key: t for t in reporting.report_tables(result)},
                           charts=reporting.chart_names(result), filters=_filters(),
                           zone=reporting.zone_label(result),
                           slot_label=reporting.slot_label)


@bp.get("/programs/<int:program_id>/report/chart.svg")
@access("admin")
def report_chart(program_id: int) -> ResponseReturnValue:
    """One chart of the report (``chart``: one of :func:`server.reporting.chart_names`) as
    SVG; 404 for a chart the report does not have."""
    svg = reporting.chart_svg(_report(program_id), request.args.get("chart", ""))
    if svg is None:
        raise bank.NotFound("report_chart_not_found")
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


def _download(data: bytes, media: str, result: ProgramReport, suffix: str) -> Response:
    response = send_file(io.BytesIO(data), mimetype=media, as_attachment=True,
                         download_name=f"laporan-{result.code}.{suffix}")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/programs/<int:program_id>/report.csv")
@access("admin")
def report_csv(program_id: int) -> ResponseReturnValue:
    """The report's tables as one CSV file (Indonesian headers)."""
    result = _report(program_id)
    with reporting.exports_locale():
        data = reporting.report_csv(result)
    return _download(data, reporting.CSV_MEDIA, result, "csv")


@bp.get("/programs/<int:program_id>/report.xlsx")
@access("admin")
def report_xlsx(program_id: int) -> ResponseReturnValue:
    """The report's tables as a workbook, one sheet each (Indonesian headers)."""
    result = _report(program_id)
    with reporting.exports_locale():
        data = reporting.report_xlsx(result)
    return _download(data, reporting.XLSX_MEDIA, result, "xlsx")
