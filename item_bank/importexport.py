"""CSV helpers of the item file (:mod:`item_bank.item_file`) and the participant roster.

Imports are all-or-nothing: every row is checked first, every bad row is reported with its
line number and reason, and a file with any bad row stores nothing.

CSV text cells that a spreadsheet would run as a formula are written with a leading ``'``
(:func:`csv_text`) and read back without it (:func:`csv_untext`), so an export re-imports
unchanged.
"""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

from sqlalchemy.orm import Session

from .admin import bulk_enrol, get_program

LETTERS = string.ascii_uppercase
PARTICIPANT_COLUMNS = ["nip", "name", "unit"]

# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _quoted(cell: str) -> bool:
    """A cell that csv_text prefixed: a quote, then a formula start or another quote."""
    return cell.startswith("'") and cell[1:2] in (*FORMULA_STARTS, "'")


def csv_text(value: str) -> str:
    """A text cell as the CSV export writes it: a leading ``'`` when a spreadsheet would run it
    as a formula, and also when the text itself begins like a prefixed cell (``'=`` or
    ``''``), so that :func:`csv_untext` gives every text back exactly.  Numbers are not text
    cells: a b of -1.2 stays a number."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) or _quoted(value) else value


def csv_untext(cell: str) -> str:
    """The text of a CSV cell: the quote csv_text added removed, any other cell as it is (a
    hand-written ``'Tis`` keeps its quote; a spreadsheet's own ``'=x`` for the text ``=x``
    loses it, as the spreadsheet shows it)."""
    return cell[1:] if _quoted(cell) else cell


# --------------------------------------------------------------------------- participants


def import_participants(session: Session, path: Path | str, *, program_code: str) -> int:
    """Register and enrol everyone of a ``nip,name,unit`` CSV, or nobody; returns the count.

    A NIP already on the register is enrolled and its name and unit are updated
    (:func:`item_bank.admin.bulk_enrol`).
    """
    program = get_program(session, program_code)
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if header[:2] != ["nip", "name"] or set(header) - set(PARTICIPANT_COLUMNS):
        raise ValueError(f"{path}: the header must be nip,name,unit")
    rows, lines = [], []
    for record in reader:
        record = {k.strip().lower(): (v or "").strip() for k, v in record.items() if k}
        rows.append((record.get("nip", ""), record.get("name", ""), record.get("unit", "")))
        lines.append(reader.line_num)
    return bulk_enrol(session, program_id=program.id, rows=rows, lines=lines, source=str(path))
