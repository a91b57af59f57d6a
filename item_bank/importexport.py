"""Import and export of items (CSV, JSON) and participant rosters (CSV).

Imports are all-or-nothing: every row is checked first, every bad row is reported with its
line number and reason, and a file with any bad row stores nothing.  A new item enters the
lifecycle as draft, or as operational when it carries a and b and the import allows it
(:func:`item_bank.models.entry_status`); each one gets an ``item_imported`` audit entry.

Item columns (CSV header / JSON keys; see docs/item_bank.md):

``id, materi, content_tag, stem, option_a .. option_e (CSV) | options (JSON list), key,
model, a, b, c, se_a, se_b, se_c, status, author`` (export adds ``version``).
``key`` is the letter of the correct option (A = first).

CSV text cells that a spreadsheet would run as a formula are written with a leading ``'``
(:func:`csv_text`) and read back without it (:func:`csv_untext`), so an export re-imports
unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .admin import ImportRejected, bulk_enrol, get_program, new_item
from .models import (
    AuditLog,
    ContentTag,
    Item,
    Materi,
    Program,
    entry_status,
)
from .tx import transactional

LETTERS = string.ascii_uppercase
MAX_OPTIONS = 5
OPTION_COLUMNS = [f"option_{c}" for c in "abcde"[:MAX_OPTIONS]]
ITEM_COLUMNS = ["id", "materi", "content_tag", "stem", *OPTION_COLUMNS, "key", "model", "a", "b",
                "c", "se_a", "se_b", "se_c", "status", "author"]
REQUIRED_ITEM_COLUMNS = {"id", "materi", "stem", "key"}
PARTICIPANT_COLUMNS = ["nip", "name", "unit"]
NUMBER_COLUMNS = {"a", "b", "c", "se_a", "se_b", "se_c"}

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


def _number(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _key_index(value: Any) -> int:
    text = str(value).strip().upper()
    if len(text) != 1 or text not in LETTERS:
        raise ValueError(f"key must be an option letter (A, B, ...), got {value!r}")
    return LETTERS.index(text)


# --------------------------------------------------------------------------- items: reading


def read_item_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for each item of a CSV or JSON file (by extension)."""
    # newline="": a CR or LF inside a quoted CSV cell is text, kept as it is (csv module docs)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    if Path(path).suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of item objects")
        # JSON "line" = 1-based position in the list.
        return [(i + 1, rec) for i, rec in enumerate(data)]
    if Path(path).suffix.lower() != ".csv":
        raise ValueError(f"{path}: use a .csv or .json file")
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    missing = REQUIRED_ITEM_COLUMNS - header
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    unknown = header - set(ITEM_COLUMNS)
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {', '.join(sorted(unknown))}")
    rows = []
    for record in reader:
        record = {k: csv_untext(v) if isinstance(v, str) and k not in NUMBER_COLUMNS else v
                  for k, v in record.items()}
        options = [record.pop(col) or "" for col in OPTION_COLUMNS if col in record]
        while options and not options[-1].strip():
            options.pop()
        record["options"] = options
        rows.append((reader.line_num, record))
    return rows


@transactional
def import_items(session: Session, path: Path | str, *, program_code: str,
                 author: str = "import", allow_operational: bool = False) -> int:
    """Import every item of ``path`` into the program, or nothing; returns the count.

    ``author`` is the importer (the audit entries' actor, and the author of rows without one);
    ``allow_operational`` lets calibrated rows with status operational enter as operational.
    """
    program = get_program(session, program_code)
    rows = read_item_rows(Path(path))
    if not rows:
        raise ValueError(f"{path}: no items in the file")
    materi = {m.code: m for m in session.scalars(select(Materi).where(
        Materi.program_id == program.id))}
    tags = {(t.materi_id, t.code): t for t in session.scalars(
        select(ContentTag).join(Materi).where(Materi.program_id == program.id))}
    existing = set(session.scalars(select(Item.code).where(Item.program_id == program.id)))
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    items: list[Item] = []
    for line, record in rows:
        try:
            items.append(_item_from_record(program, record, materi, tags, author,
                                           allow_operational))
            code = items[-1].code
            if code in first_line:
                raise ValueError(f"duplicate item id {code!r} (also on line {first_line[code]})")
            first_line[code] = line
            if code in existing:
                raise ValueError(f"item id {code!r} already exists in program {program.code}")
        except ValueError as exc:
            problems.append((line, str(exc)))
    if problems:
        raise ImportRejected(str(path), problems)
    session.add_all(items)
    session.add_all(AuditLog(actor=author, action="item_imported", subject=f"item:{item.code}",
                             details={"program": program.code, "status": item.status.value,
                                      "line": first_line[item.code], "file": Path(path).name})
                    for item in items)
    session.add(AuditLog(actor=author, action="items_imported", subject=f"program:{program.code}",
                         details={"count": len(items), "file": Path(path).name}))
    return len(items)


def _item_from_record(program: Program, record: Any, materi: dict[str, Materi],
                      tags: dict[tuple[int, str], ContentTag], author: str,
                      allow_operational: bool) -> Item:
    if not isinstance(record, dict):
        raise ValueError("an item must be an object")
    unknown = set(record) - {*ITEM_COLUMNS, "options", "version"}
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    code = str(record.get("id") or "").strip()
    materi_code = str(record.get("materi") or "").strip()
    if materi_code not in materi:
        known = ", ".join(sorted(materi)) or "none"
        raise ValueError(f"unknown materi {materi_code!r} (program has: {known})")
    mat = materi[materi_code]
    tag = None
    tag_code = str(record.get("content_tag") or "").strip()
    if tag_code:
        tag = tags.get((mat.id, tag_code))
        if tag is None:
            raise ValueError(f"unknown content tag {tag_code!r} of materi {materi_code}")
    options = record.get("options")
    if not isinstance(options, list):
        raise ValueError("options must be a list of texts")
    key = _key_index(record.get("key", ""))
    if key >= len(options):
        raise ValueError(f"key {LETTERS[key]} is not among the options "
                         f"(A-{LETTERS[max(len(options) - 1, 0)]})")
    model = str(record.get("model") or "2pl").strip().lower()
    a, b, c = (_number(record.get(n), n) for n in ("a", "b", "c"))
    if model == "1pl" and a is None and b is not None:
        a = 1.0
    se = tuple(_number(record.get(n), n) for n in ("se_a", "se_b", "se_c"))
    return new_item(program, mat, code=code, stem=str(record.get("stem") or ""),
                    options=[str(o) for o in options], key=key, model=model, a=a, b=b, c=c,
                    status=entry_status(record.get("status"), a=a, b=b,
                                        allow_operational=allow_operational),
                    content_tag=tag, author=str(record.get("author") or author), se=se)


# --------------------------------------------------------------------------- items: writing


def item_records(session: Session, program_code: str) -> list[dict[str, Any]]:
    """Every item of the program as export records (JSON form), ordered by id."""
    program = get_program(session, program_code)
    rows = session.execute(
        select(Item, Materi.code, ContentTag.code)
        .join(Materi, Item.materi_id == Materi.id)
        .outerjoin(ContentTag, Item.content_tag_id == ContentTag.id)
        .where(Item.program_id == program.id).order_by(Item.code)).all()
    return [{
        "id": item.code, "materi": materi_code, "content_tag": tag_code or "",
        "stem": item.stem, "options": list(item.options), "key": LETTERS[item.key],
        "model": item.model.value, "a": item.a, "b": item.b, "c": item.c, "se_a": item.se_a,
        "se_b": item.se_b, "se_c": item.se_c, "status": item.status.value,
        "author": item.author, "version": item.version,
    } for item, materi_code, tag_code in rows]


def export_items(session: Session, *, program_code: str, fmt: str) -> str:
    """The program's items as JSON or CSV text (re-importable)."""
    records = item_records(session, program_code)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (use json or csv)")
    if any(len(r["options"]) > MAX_OPTIONS for r in records):
        raise ValueError(f"CSV holds at most {MAX_OPTIONS} options per item; export as json")
    out = io.StringIO()
    # CRLF rows (RFC 4180): with it the writer also quotes a cell holding a lone CR, which
    # with "\n" rows it would leave bare and break the file.
    writer = csv.DictWriter(out, fieldnames=[*ITEM_COLUMNS], lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        row = {k: ("" if v is None else csv_text(v) if isinstance(v, str) else v)
               for k, v in record.items() if k not in ("options", "version")}
        for column, option in zip(OPTION_COLUMNS, record["options"], strict=False):
            row[column] = csv_text(option)
        writer.writerow(row)
    return out.getvalue()


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
