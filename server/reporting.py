"""The administrator's report of a program written out: its tables (the page, the CSV and the
XLSX file show the same cells), its charts as SVG (matplotlib) and the two exports.

:func:`item_bank.reports.program_report` computes every figure; this module only lays them
out, in the request's language (the exports in Indonesian, :func:`exports_locale`), with
dates and times in the program's time zone, named in the column headers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from flask_babel import force_locale
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from item_bank.models import CertificateRoute, ExamKind
from item_bank.reports import SCORE_BINS, ProgramReport, SlotLine
from server.i18n import FORMAT_LOCALES, gettext, zone_abbreviation

# Text stays text in the SVG (smaller, and read by screen readers and tests), and its ids do
# not change from one drawing to the next.  Only this module writes SVG.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "smartcat-report"

# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...) from a
# participant's name): the exports write it behind an apostrophe, as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Cell = str | int | float | dt.datetime | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text, count, score (one decimal), percent, minutes, datetime


@dataclass(frozen=True)
class Table:
    """One table of the report: ``key`` is its id on the page, ``sheet`` its sheet's name in
    the workbook (at most 31 characters)."""

    key: str
    sheet: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _cut(slot: SlotLine) -> float | str:
    """The pass mark of a part; several (exams of one slot that differ) joined by " / "."""
    cuts = slot.cut_scores
    return cuts[0] if len(cuts) == 1 else " / ".join(f"{c:g}" for c in cuts)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def zone_label(report: ProgramReport) -> str:
    """``WIB (Asia/Jakarta)``: the program's zone by its abbreviation and its name."""
    now = dt.datetime.now(ZoneInfo(report.timezone))
    return f"{zone_abbreviation(now, report.timezone, FORMAT_LOCALES['en'])} ({report.timezone})"


def slot_label(slot: SlotLine) -> str:
    if slot.kind == ExamKind.PRE_ASSESSMENT:
        return gettext("pre-assessment")
    if slot.kind == ExamKind.UJIKOM:
        return gettext("ujikom")
    return gettext("materi %(code)s: %(name)s", code=slot.materi_code, name=slot.materi_name)


def _kind_label(kind: ExamKind) -> str:
    return {ExamKind.PRE_ASSESSMENT: gettext("pre-assessment"),
            ExamKind.MATERI: gettext("materi exam"), ExamKind.UJIKOM: gettext("ujikom")}[kind]


def _route_label(route: str) -> str:
    return (gettext("pre-assessment") if route == CertificateRoute.PRE_ASSESSMENT
            else gettext("ujikom"))


def bin_labels() -> list[str]:
    """``0–10``, ..., ``90–100``: each range holds its lower end, the last one 100 too."""
    return [f"{low}–{high}" for low, high in zip(SCORE_BINS, SCORE_BINS[1:], strict=False)]


def report_tables(report: ProgramReport) -> list[Table]:
    """Every table of the report, in the request's language."""
    zone = zone_label(report)
    period = "–".join(day.isoformat() if day else "…"
                      for day in (report.first_day, report.last_day))
    summary = Table("summary", gettext("Summary"), gettext("Summary"), (
        Column(gettext("Figure")), Column(gettext("Value"))), (
        (gettext("Program"), f"{report.code}: {report.name}"),
        (gettext("Time zone"), zone),
        (gettext("Period (days the attempts started)"),
         period if report.first_day or report.last_day else gettext("all")),
        (gettext("Exam"), report.exam.code if report.exam else gettext("all")),
        (gettext("Participants enrolled"), report.enrolled),
        (gettext("Participants with a finished attempt"), report.participants),
        (gettext("Finished attempts"), report.attempts),
        (gettext("Attempts still running"), report.running),
        (gettext("Certificates issued"), len(report.certificates)),
    ))
    slots = [s for s in report.slots if s.attempts]
    passing = Table("pass_rates", gettext("Pass rates"), gettext("Pass rates per materi"), (
        Column(gettext("Part")), Column(gettext("Cut score"), "score"),
        Column(gettext("Participants"), "count"), Column(gettext("Participants passed"), "count"),
        Column(gettext("Participants' pass rate (%)"), "percent"),
        Column(gettext("Attempts taken"), "count"), Column(gettext("Attempts passed"), "count"),
        Column(gettext("Attempts' pass rate (%)"), "percent")), tuple(
        (slot_label(s), _cut(s), s.participants,
         s.participants_passed, _percent(s.participants_passed, s.participants), s.attempts,
         s.attempts_passed, _percent(s.attempts_passed, s.attempts)) for s in report.slots))
    by_number = Table("attempt_numbers", gettext("Attempt numbers"),
                      gettext("Pass rates per attempt number"), (
        Column(gettext("Part")), Column(gettext("Attempt number"), "count"),
        Column(gettext("Attempts taken"), "count"), Column(gettext("Passed"), "count"),
        Column(gettext("Pass rate (%)"), "percent")), tuple(
        (slot_label(s), n.number, n.attempts, n.passed, _percent(n.passed, n.attempts))
        for s in slots for n in s.by_number))
    histogram = Table("scores", gettext("Scores"),
                      gettext("Score distribution (attempts per score range)"), (
        Column(gettext("Part")), Column(gettext("Cut score"), "score"),
        *(Column(label, "count") for label in bin_labels())), tuple(
        (slot_label(s), _cut(s), *s.histogram)
        for s in slots))
    spread = Table("times", gettext("Time taken"), gettext("Scores and time taken"), (
        Column(gettext("Part")), Column(gettext("Score, lower quartile"), "score"),
        Column(gettext("Score, median"), "score"),
        Column(gettext("Score, upper quartile"), "score"),
        Column(gettext("Minutes, lower quartile"), "minutes"),
        Column(gettext("Minutes, median"), "minutes"),
        Column(gettext("Minutes, upper quartile"), "minutes")), tuple(
        (slot_label(s), _round(s.score.q1), _round(s.score.median), _round(s.score.q3),
         _round(s.minutes.q1), _round(s.minutes.median), _round(s.minutes.q3))
        for s in slots if s.score and s.minutes))
    exams = Table("exams", gettext("Exams"), gettext("Exams (windows)"), (
        Column(gettext("Code")), Column(gettext("Title")), Column(gettext("Kind")),
        Column(gettext("Materi")), Column(gettext("Cut score"), "score"),
        Column(gettext("Window opens, %(zone)s", zone=zone), "datetime"),
        Column(gettext("Window closes, %(zone)s", zone=zone), "datetime"),
        Column(gettext("Finished attempts"), "count"), Column(gettext("Passed"), "count"),
        Column(gettext("Pass rate (%)"), "percent"), Column(gettext("Running"), "count")), tuple(
        (e.code, e.title, _kind_label(e.kind), e.materi_code, e.cut_score, e.opens_at,
         e.closes_at, e.attempts, e.attempts_passed, _percent(e.attempts_passed, e.attempts),
         e.running) for e in report.exams))
    exposure = Table("exposure", gettext("Exposure"), gettext("Item usage and exposure"), (
        Column(gettext("Materi")), Column(gettext("Operational items"), "count"),
        Column(gettext("Items shown"), "count"),
        Column(gettext("Highest exposure rate (%)"), "percent"),
        Column(gettext("Mean exposure rate (%)"), "percent"),
        Column(gettext("Operational items never shown"), "count")), tuple(
        (f"{x.materi_code}: {x.materi_name}", x.operational, x.used,
         _round(None if x.max_rate is None else 100 * x.max_rate),
         _round(None if x.mean_rate is None else 100 * x.mean_rate), x.never_shown)
        for x in report.exposure))
    certificates = Table("certificates", gettext("Certificates"),
                         gettext("Certificates issued"), (
        Column(gettext("Number")), Column("NIP"), Column(gettext("Name")),
        Column(gettext("Route")), Column(gettext("Score"), "score"),
        Column(gettext("Issued, %(zone)s", zone=zone), "datetime")), tuple(
        (c.number, c.nip, c.name, _route_label(c.route), _round(c.score), c.issued_at)
        for c in report.certificates))
    return [summary, passing, by_number, histogram, spread, exams, exposure, certificates]


# --- charts ---------------------------------------------------------------------------------


def chart_names(report: ProgramReport) -> list[str]:
    """The charts the report has: a score histogram per part with finished attempts and the
    pass rates per attempt number; none without attempts."""
    names = [f"scores-{s.slot.replace(':', '-')}" for s in report.slots if s.attempts]
    return ["attempt-numbers", *names] if names else []


def _svg(fig: Figure) -> bytes:
    out = io.BytesIO()
    FigureCanvasSVG(fig).print_svg(out, metadata={"Date": None})
    return out.getvalue()


def chart_svg(report: ProgramReport, name: str) -> bytes | None:
    """The chart ``name`` (one of :func:`chart_names`) as SVG; None for another name."""
    if name not in chart_names(report):
        return None
    if name == "attempt-numbers":
        return _attempts_chart(report)
    slot = next(s for s in report.slots if f"scores-{s.slot.replace(':', '-')}" == name)
    return _histogram(slot)


def _histogram(slot: SlotLine) -> bytes:
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    ax.bar(SCORE_BINS[:-1], slot.histogram, width=10, align="edge", color="#0b4f8a",
           edgecolor="white")
    for cut in slot.cut_scores:
        ax.axvline(cut, color="#b00020", linewidth=2, linestyle="--",
                   label=gettext("Cut score %(cut)s", cut=f"{cut:g}"))
    ax.set_xlim(0, 100)
    ax.set_xticks(SCORE_BINS)
    ax.set_xlabel(gettext("Score (0–100)"))
    ax.set_ylabel(gettext("Attempts taken"))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(slot_label(slot))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _svg(fig)


def _attempts_chart(report: ProgramReport) -> bytes:
    slots = [s for s in report.slots if s.attempts]
    numbers = sorted({n.number for s in slots for n in s.by_number})
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    width = 0.8 / len(slots)
    for k, slot in enumerate(slots):
        rates = {n.number: 100 * n.rate for n in slot.by_number}
        ax.bar([x + k * width for x in range(len(numbers))],
               [rates.get(n, 0.0) for n in numbers], width=width, label=slot_label(slot))
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(numbers))],
                  [str(n) for n in numbers])
    ax.set_ylim(0, 100)
    ax.set_xlabel(gettext("Attempt number"))
    ax.set_ylabel(gettext("Pass rate (%)"))
    ax.set_title(gettext("Pass rates per attempt number"))
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _svg(fig)


# --- exports --------------------------------------------------------------------------------


@contextmanager
def exports_locale() -> Iterator[None]:
    """The exports are in Indonesian, whatever the page's language."""
    with force_locale("id"):
        yield


def safe_text(value: str) -> str:
    """``value`` as a spreadsheet shows it and never runs it: an apostrophe before a text
    that would start a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _export_cell(value: Cell, zone: ZoneInfo) -> Any:
    """A cell for a file: text made safe, a time as the program's local time (naive: its
    zone is named in the header), numbers and empty cells as they are."""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        return safe_text(value)
    return value


def report_csv(report: ProgramReport) -> bytes:
    """Every table one after the other, each under a line with its title and separated by an
    empty line; UTF-8 with a byte order mark (spreadsheets then read it as UTF-8)."""
    zone = ZoneInfo(report.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for table in report_tables(report):
        writer.writerow([safe_text(table.title)])
        writer.writerow([safe_text(c.title) for c in table.columns])
        for row in table.rows:
            cells = [_export_cell(v, zone) for v in row]
            writer.writerow(["" if v is None else v.strftime("%Y-%m-%d %H:%M")
                             if isinstance(v, dt.datetime) else v for v in cells])
        writer.writerow([])
    return out.getvalue().encode("utf-8-sig")


def report_xlsx(report: ProgramReport) -> bytes:
    """A workbook with one sheet per table: the header row first, numbers as numbers and
    times as the program's local times."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    zone = ZoneInfo(report.timezone)
    book = Workbook()
    book.remove(book.active)
    for table in report_tables(report):
        sheet = book.create_sheet(table.sheet)
        sheet.append([safe_text(c.title) for c in table.columns])
        for row in table.rows:
            sheet.append([_export_cell(v, zone) for v in row])
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    # openpyxl would store a text starting with "=" as a formula
                    cell.data_type = TYPE_STRING
                elif isinstance(cell.value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
        for column, spec in zip(sheet.columns, table.columns, strict=True):
            sheet.column_dimensions[column[0].column_letter].width = max(
                12, min(48, len(spec.title) + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
