"""The item file: one format for CSV and JSON, read the same way by the writer's page and the
command line, previewed before anything is stored, imported all or nothing.

The columns (CSV header) are the keys (JSON objects of a list), ``COLUMNS``; docs/item_bank.md
"Item file" describes them.  ``key`` is the letter (A-E) of the correct option, ``materi``
and ``content_tag`` are codes of the program the file is imported into.  The export
(:func:`export_items`) writes exactly this format, so an export imported again changes
nothing.  Old JSON exports of the writer's page (``code``, ``program``, an ``options`` list,
an integer 0-based ``key``) are read too.

:func:`plan_file` reads a file and says, for each item, whether it is new, changed (and what
changes) or unchanged, or names every bad line with its column and the reason (a
:class:`Problem`, whose reason is a code of :mod:`item_bank.messages`); :func:`import_file`
stores a plan without problems, :func:`import_draft` the upload the writer confirmed on the
preview page (kept as an :class:`item_bank.models.ImportDraft`, like a question file of
another tool, :mod:`item_bank.exchange.load`).

Hostile files are refused with a reason, never half-read: not UTF-8, over
:data:`MAX_FILE_BYTES`, more than :data:`MAX_ITEMS` items, a cell over :data:`MAX_CELL_CHARS`
characters, JSON nested deeper than Python's parser goes.  CSV may come with a byte order mark,
``;`` or tab separators and decimal commas (a spreadsheet in the Indonesian locale), cells
with line breaks (quoted), and the leading ``'`` of :func:`item_bank.importexport.csv_text`.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .admin import get_program, new_item
from .errors import Conflict, Forbidden
from .exchange.base import MAX_FILE_BYTES
from .exchange.load import save_draft, take_draft
from .families import FAMILY_MAX, refresh_families
from .importexport import LETTERS as IMPORT_LETTERS
from .importexport import csv_text, csv_untext
from .messages import Notice
from .models import (
    ITEM_TRANSITIONS,
    AuditLog,
    ContentTag,
    IrtModel,
    Item,
    ItemStatus,
    Materi,
    Program,
    parameters_set_by,
    validate_item_fields,
)
from .models.item import A_RANGE, B_RANGE, C_RANGE
from .models.limits import max_length, text_problem
from .tx import transactional

LETTERS = IMPORT_LETTERS[:5]  # the options A-E
OPTION_COLUMNS = [f"option_{letter.lower()}" for letter in LETTERS]
PARAMETER_COLUMNS = ["a", "b", "c", "se_a", "se_b", "se_c"]
COLUMNS = ["id", "materi", "content_tag", "family", "stem", *OPTION_COLUMNS, "key", "model",
           *PARAMETER_COLUMNS, "p_guess", "status", "author", "version"]
# Read, never written: the program a file was made for (old JSON exports carry it).
EXTRA_COLUMNS = ["program"]
REQUIRED_COLUMNS = ["id", "materi", "stem", "option_a", "option_b", "key"]
NUMBER_COLUMNS = {*PARAMETER_COLUMNS, "p_guess", "version"}
FORMATS = ("csv", "json")
# What one file may hold: a bank of a program, not a dump of the database.
MAX_ITEMS = 10_000
MAX_CELL_CHARS = 65_536
# The fields an item's content is compared and changed by (in the preview's order).
CONTENT_FIELDS = ("materi", "content_tag", "family", "stem", "options", "key", "model",
                  *PARAMETER_COLUMNS, "p_guess")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_RANGES = {"a": A_RANGE, "b": B_RANGE, "c": C_RANGE}


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a file, or one line (CSV) or record (JSON) of it, cannot be imported."""

    where: int | None  # the line or record number; None: the whole file
    unit: str  # "line" or "record"
    field: str  # the column ("" for the whole line or file)
    notice: Notice

    @property
    def place(self) -> Notice | None:
        """Where it is, as the page writes it ("line 3"); None for the whole file."""
        if self.where is None:
            return None
        return Notice(f"import_at_{self.unit}", {"n": self.where})

    def text(self) -> str:
        """In English (the command line)."""
        place = ", ".join(p for p in (self.place and self.place.text(), self.field) if p)
        return f"{place}: {self.notice.text()}" if place else self.notice.text()


@dataclasses.dataclass(frozen=True)
class Change:
    """One field of an existing item that the file changes."""

    field: str
    before: Any
    after: Any


@dataclasses.dataclass(frozen=True)
class PlannedItem:
    """What one line or record becomes: a new item, a change of one, or nothing."""

    where: int
    code: str
    action: str  # "new", "changed", "unchanged"
    materi: str
    content_tag: str | None
    stem: str
    options: tuple[str, ...]
    key: int
    status: ItemStatus
    status_before: ItemStatus | None
    changes: tuple[Change, ...]
    state: dict[str, Any] = dataclasses.field(compare=False, repr=False)

    @property
    def key_letter(self) -> str:
        return LETTERS[self.key]


@dataclasses.dataclass(frozen=True)
class ItemFilePlan:
    """The preview of an item file: what it creates and changes, or every problem."""

    program: str
    filename: str
    format: str
    unit: str
    items: tuple[PlannedItem, ...]
    problems: tuple[Problem, ...]

    def _of(self, action: str) -> list[PlannedItem]:
        return [i for i in self.items if i.action == action]

    new = property(lambda self: self._of("new"))
    changed = property(lambda self: self._of("changed"))
    unchanged = property(lambda self: self._of("unchanged"))

    @property
    def digest(self) -> str:
        """What the preview showed, as a hash: the confirmation stores the file only when
        reading it again against the bank gives the same plan."""
        body = json.dumps([[i.where, i.code, i.action, i.status.value,
                            [[c.field, c.before, c.after] for c in i.changes]]
                           for i in self.items], default=str, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


class ItemFileRejected(ValueError):
    """An item file with problems: nothing was stored; ``plan.problems`` names each one."""

    def __init__(self, plan: ItemFilePlan) -> None:
        self.plan = plan
        lines = "\n".join(f"  {p.text()}" for p in plan.problems)
        super().__init__(f"{plan.filename}: {len(plan.problems)} problem(s), nothing "
                         f"imported:\n{lines}")


# ------------------------------------------------------------------------------- reading


@dataclasses.dataclass
class _Row:
    where: int
    raw: dict[str, Any]  # column -> cell (CSV: text; JSON: a JSON scalar)


class _Reader:
    """Reads one file into rows, collecting problems (file-wide ones stop the reading)."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.unit = "line" if fmt == "csv" else "record"
        self.problems: list[Problem] = []

    def problem(self, where: int | None, field: str, message: str, /, **params: Any) -> None:
        self.problems.append(Problem(where, self.unit, field, Notice(message, params)))

    def read(self, data: bytes) -> list[_Row]:
        if not data:
            self.problem(None, "", "import_file_empty")
            return []
        if len(data) > MAX_FILE_BYTES:
            self.problem(None, "", "import_file_too_large", size=round(len(data) / 2**20, 1),
                         max=MAX_FILE_BYTES // 2**20)
            return []
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problem(None, "", "import_not_utf8", byte=f"0x{data[exc.start]:02X}",
                         line=data[:exc.start].count(b"\n") + 1)
            return []
        return self._csv(text) if self.format == "csv" else self._json(text)

    def _csv(self, text: str) -> list[_Row]:
        first = text.split("\n", 1)[0]
        # Excel writes ";" where the decimal sign is a comma (the Indonesian locale): the
        # separator is the one that splits the header into the most known columns.
        delimiter = max((",", ";", "\t"), key=lambda d: len(
            {c.strip().lower() for c in next(csv.reader([first], delimiter=d), [])}
            & {*COLUMNS, *EXTRA_COLUMNS}))
        # newline="": a line break inside a quoted cell is text (the csv module's rule).
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = [c.strip().lower() for c in next(reader, [])]
        except csv.Error:
            header = []
        if not self._header(header):
            return []
        rows: list[_Row] = []
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # The csv module stops at a cell over its field limit (128 KiB), a NUL, ...
                if "field limit" in str(exc):
                    self.problem(start, "", "import_cell_too_long", max=MAX_CELL_CHARS)
                else:
                    self.problem(start, "", "import_csv_unreadable")
                break
            where, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # an empty line, or a spreadsheet's empty row (";;;;")
            if len(rows) == MAX_ITEMS:
                self.problem(None, "", "import_too_many_items", max=MAX_ITEMS)
                return []
            if len(cells) != len(header):
                self.problem(where, "", "import_cell_count", cells=len(cells),
                             columns=len(header))
                continue
            rows.append(_Row(where, {column: cell if column in NUMBER_COLUMNS
                                     else csv_untext(cell)
                                     for column, cell in zip(header, cells, strict=True)}))
        return rows

    def _header(self, header: list[str]) -> bool:
        if not any(header):
            self.problem(None, "", "import_no_header", columns=", ".join(REQUIRED_COLUMNS))
            return False
        repeated = sorted({c for c in header if header.count(c) > 1})
        unknown = [c for c in header if c not in COLUMNS and c not in EXTRA_COLUMNS]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if repeated:
            self.problem(None, "", "import_columns_repeated", columns=", ".join(repeated))
        if unknown:
            self.problem(None, "", "import_columns_unknown", columns=", ".join(unknown),
                         known=", ".join(COLUMNS))
        if missing:
            self.problem(None, "", "import_columns_missing", columns=", ".join(missing))
        return not (repeated or unknown or missing)

    def _json(self, text: str) -> list[_Row]:
        try:
            data = json.loads(text)
        except RecursionError:
            self.problem(None, "", "import_json_too_deep")
            return []
        except json.JSONDecodeError as exc:
            self.problem(None, "", "import_not_json", line=exc.lineno, column=exc.colno)
            return []
        if not isinstance(data, list):
            self.problem(None, "", "import_json_not_list")
            return []
        if len(data) > MAX_ITEMS:
            self.problem(None, "", "import_too_many_items", max=MAX_ITEMS)
            return []
        rows = []
        for n, record in enumerate(data, 1):
            if not isinstance(record, dict):
                self.problem(n, "", "import_record_not_object")
                continue
            raw = self._json_record(n, record)
            if raw is not None:
                rows.append(_Row(n, raw))
        return rows

    def _json_record(self, n: int, record: dict[str, Any]) -> dict[str, Any] | None:
        raw = dict(record)
        bad = False
        # The writer page's old export: "code" for the id, a list of options.
        if "code" in raw:
            code = raw.pop("code")
            if "id" in raw and raw["id"] != code:
                self.problem(n, "code", "import_code_and_id")
                bad = True
            raw.setdefault("id", code)
        if "options" in raw:
            options = raw.pop("options")
            if any(c in raw for c in OPTION_COLUMNS):
                self.problem(n, "options", "import_options_twice")
                bad = True
            elif not isinstance(options, list) or len(options) > len(LETTERS):
                self.problem(n, "options", "import_options_list", max=len(LETTERS))
                bad = True
            else:
                raw.update(zip(OPTION_COLUMNS, options, strict=False))
        for name in sorted(set(raw) - {*COLUMNS, *EXTRA_COLUMNS}):
            self.problem(n, str(name)[:40], "import_columns_unknown", columns=str(name)[:40],
                         known=", ".join(COLUMNS))
            bad = True
        for name in REQUIRED_COLUMNS:
            if name not in raw:
                self.problem(n, name, "import_required")
                bad = True
        return None if bad else raw


@dataclasses.dataclass
class _Values:
    """One row's fields as the bank stores them, and which of them the file gives."""

    where: int
    code: str
    present: set[str]
    fields: dict[str, Any]


class _Checker:
    """Turns a row's cells into typed values, naming every bad cell."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader

    def values(self, row: _Row) -> _Values | None:
        before = len(self.reader.problems)
        raw = row.raw
        fields: dict[str, Any] = {}
        for name in ("id", "materi", "content_tag", "family", "stem", "author", "program",
                     "model", "status"):
            if name in raw:
                fields[name] = self._text(row.where, name, raw[name])
        options = [self._text(row.where, c, raw[c]) for c in OPTION_COLUMNS if c in raw]
        for name in sorted(NUMBER_COLUMNS & set(raw)):
            fields[name] = self._number(row.where, name, raw[name])
        for name in ("id", "materi", "stem"):
            if not (fields.get(name) or "").strip():
                self._problem(row.where, name, "import_required")
        fields["options"] = self._options(row.where, options)
        fields["key"] = self._key(row.where, raw.get("key"), fields["options"])
        self._codes(row.where, fields)
        self._parameters(row.where, fields)
        if len(self.reader.problems) > before:
            return None
        present = {*raw} - set(OPTION_COLUMNS) | {"options"}
        return _Values(row.where, fields["id"].strip(), present, fields)

    def _problem(self, where: int, field: str, message: str, /, **params: Any) -> None:
        self.reader.problem(where, field, message, **params)

    def _text(self, where: int, name: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, int) and not isinstance(value, bool) and name != "stem":
            value = str(value)  # an id or a code written as a JSON number
        if not isinstance(value, str):
            self._problem(where, name, "import_not_text")
            return ""
        limit = {"id": max_length(Item.code), "author": max_length(Item.author),
                 "family": FAMILY_MAX}.get(name) or MAX_CELL_CHARS
        problem = text_problem(value, limit)
        if problem == "too_long":
            self._problem(where, name, "import_cell_too_long", max=limit)
        elif problem is not None:
            self._problem(where, name, "import_bad_text")
        return value

    def _number(self, where: int, name: str, value: Any) -> float | int | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            text = value.strip()
            if _DECIMAL_COMMA.fullmatch(text):
                text = text.replace(",", ".")  # a spreadsheet's decimal comma
            try:
                number = float(text)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            self._problem(where, name, "import_not_number", value=str(value)[:40])
            return None
        if name == "version":
            if not number.is_integer() or number < 1:
                self._problem(where, name, "import_not_version", value=str(value)[:40])
                return None
            return int(number)
        return number

    def _options(self, where: int, options: list[str]) -> list[str]:
        while options and not options[-1].strip():
            options.pop()
        for n, option in enumerate(options):
            if not option.strip():
                self._problem(where, OPTION_COLUMNS[n], "import_option_gap")
        if len(options) < 2:
            self._problem(where, OPTION_COLUMNS[len(options)], "import_options_few")
        for n, option in enumerate(options):
            if option.strip() and option in options[:n]:
                self._problem(where, OPTION_COLUMNS[n], "import_option_repeated",
                              other=LETTERS[options.index(option)])
        return options

    def _key(self, where: int, value: Any, options: list[str]) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            index = value  # an old export: the 0-based position
        elif isinstance(value, str) and value.strip().upper() in LETTERS \
                and len(value.strip()) == 1:
            index = LETTERS.index(value.strip().upper())
        else:
            self._problem(where, "key", "import_key_letter", value=str(value)[:20])
            return 0
        if not 0 <= index < max(len(options), 2):
            self._problem(where, "key", "import_key_not_option",
                          key=LETTERS[index] if 0 <= index < len(LETTERS) else str(value),
                          last=LETTERS[max(len(options), 2) - 1])
        return index

    def _codes(self, where: int, fields: dict[str, Any]) -> None:
        model = (fields.get("model") or "").strip().lower()
        if model and model not in set(IrtModel):
            self._problem(where, "model", "import_unknown_model", value=model[:20])
        fields["model"] = model or None
        status = (fields.get("status") or "").strip().lower()
        if status and status not in set(ItemStatus):
            self._problem(where, "status", "import_unknown_status", value=status[:20],
                          statuses=", ".join(s.value for s in ItemStatus))
        fields["status"] = status or None
        for name in ("materi", "content_tag", "family", "program", "author"):
            if name in fields:
                fields[name] = fields[name].strip()

    def _parameters(self, where: int, fields: dict[str, Any]) -> None:
        for name, (low, high) in _RANGES.items():
            value = fields.get(name)
            if value is not None and not low <= value <= high:
                self._problem(where, name, "import_number_range", value=value, low=low,
                              high=high)
        if fields.get("p_guess") is not None and not 0 < fields["p_guess"] < 1:
            self._problem(where, "p_guess", "editor_p_guess_range", value=fields["p_guess"])
        for name in ("se_a", "se_b", "se_c"):
            if (fields.get(name) or 0) < 0:
                self._problem(where, name, "import_number_range", value=fields[name], low=0,
                              high="∞")


def read_file(data: bytes, *, filename: str, fmt: str | None = None,
              ) -> tuple[str, list[_Values], list[Problem]]:
    """(unit, the rows' values, problems) of a file; ``fmt`` by the name's ending if None."""
    fmt = fmt or Path(filename).suffix.lower().lstrip(".")
    reader = _Reader(fmt if fmt in FORMATS else "csv")
    if fmt not in FORMATS:
        reader.problem(None, "", "import_file_type", file=filename[:80])
        return reader.unit, [], reader.problems
    rows = reader.read(data)
    checker = _Checker(reader)
    values = [v for row in rows if (v := checker.values(row)) is not None]
    if not rows and not reader.problems:
        reader.problem(None, "", "import_no_items")
    return reader.unit, values, reader.problems


# ------------------------------------------------------------------------------ planning


class _Bank:
    """The program's materi, content tags and the file's existing items."""

    def __init__(self, session: Session, program: Program, codes: Iterable[str], lock: bool):
        self.program = program
        self.materi = {m.code: m for m in session.scalars(
            select(Materi).where(Materi.program_id == program.id))}
        self.tags = {(t.materi_id, t.code): t for t in session.scalars(
            select(ContentTag).join(Materi).where(Materi.program_id == program.id))}
        stmt = select(Item).where(Item.program_id == program.id, Item.code.in_(list(codes)))
        if lock:  # the confirmation: no other change of these items until it commits
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        self.items = {i.code: i for i in session.scalars(stmt)}
        self.tag_codes = {t.id: t.code for t in self.tags.values()}
        self.materi_codes = {m.id: m.code for m in self.materi.values()}


def _current(item: Item, bank: _Bank) -> dict[str, Any]:
    return {"materi": bank.materi_codes[item.materi_id],
            "content_tag": bank.tag_codes.get(item.content_tag_id) if item.content_tag_id
            else None, "family": item.family, "stem": item.stem, "options": list(item.options),
            "key": item.key,
            "model": item.model.value, **{n: getattr(item, n) for n in PARAMETER_COLUMNS},
            "p_guess": item.p_guess}


def _plan_one(values: _Values, bank: _Bank, allow_operational: bool,
              reader: _Reader) -> PlannedItem | None:
    """The planned item of one row, or None after naming its problems."""
    f, where, before = values.fields, values.where, len(reader.problems)
    problem = reader.problem
    if f.get("program") and f["program"] != bank.program.code:
        problem(where, "program", "import_other_program", value=f["program"][:64],
                program=bank.program.code)
    materi = bank.materi.get(f["materi"])
    if materi is None:
        problem(where, "materi", "import_unknown_materi", value=f["materi"][:64],
                program=bank.program.code, known=", ".join(sorted(bank.materi)) or "—")
    elif f.get("content_tag") and (materi.id, f["content_tag"]) not in bank.tags:
        problem(where, "content_tag", "import_unknown_tag", value=f["content_tag"][:64],
                materi=materi.code, known=", ".join(sorted(
                    code for (mid, code) in bank.tags if mid == materi.id)) or "—")
    item = bank.items.get(values.code)
    current = _current(item, bank) if item is not None else None
    # A column the file leaves out keeps an existing item's value; an empty model keeps it.
    state = dict(current or {"model": IrtModel.TWO_PL.value, "content_tag": None, "family": "",
                             "p_guess": None, **dict.fromkeys(PARAMETER_COLUMNS)})
    state.update((name, f[name]) for name in CONTENT_FIELDS
                 if name in values.present and not (name == "model" and f[name] is None))
    state["content_tag"] = state["content_tag"] or None
    state["author"] = f.get("author") or ""
    if state["model"] == IrtModel.ONE_PL and state["a"] is None and state["b"] is not None:
        state["a"] = 1.0  # a Rasch item's slope is fixed
    if state["c"] is None and state["a"] is not None and state["model"] != IrtModel.THREE_PL:
        state["c"] = 0.0  # as the bank stores an item without guessing (admin.new_item)
    if state["model"] == IrtModel.ONE_PL and state["a"] not in (None, 1.0):
        problem(where, "a", "import_one_pl_a")
    if state["model"] != IrtModel.THREE_PL and state["c"] not in (None, 0.0):
        problem(where, "c", "import_c_needs_3pl", model=state["model"])
    status_before = item.status if item is not None else None
    status = ItemStatus(f["status"]) if f.get("status") else (status_before or ItemStatus.DRAFT)
    if item is None and status != ItemStatus.DRAFT:
        if status != ItemStatus.OPERATIONAL:
            problem(where, "status", "import_new_status", status=status)
        elif not allow_operational:
            problem(where, "status", "import_operational_not_allowed")
    elif item is not None and status != status_before \
            and status not in ITEM_TRANSITIONS[status_before]:
        problem(where, "status", "item_transition_refused", item=item.code,
                current=status_before, status=status)
    if status == ItemStatus.OPERATIONAL and (state["a"] is None or state["b"] is None):
        problem(where, "status", "import_needs_ab", status=status)
    changes = () if current is None else tuple(
        Change(name, *(LETTERS[v] if name == "key" else v for v in (current[name], state[name])))
        for name in CONTENT_FIELDS if state[name] != current[name])
    if changes and f.get("version") is not None and f["version"] != item.version:
        problem(where, "version", "import_version_stale", code=item.code,
                current=item.version, version=f["version"])
    if len(reader.problems) > before:
        return None
    try:  # the checks of every item, in case a rule is not named above
        validate_item_fields(options=state["options"], key=state["key"], model=state["model"],
                             a=state["a"], b=state["b"], c=state["c"], status=status.value)
    except ValueError as exc:
        problem(where, "", "import_value_refused", detail=str(exc))
        return None
    action = "new" if item is None else (
        "changed" if changes or status != status_before else "unchanged")
    return PlannedItem(where=where, code=values.code, action=action, materi=state["materi"],
                       content_tag=state["content_tag"], stem=state["stem"],
                       options=tuple(state["options"]), key=state["key"], status=status,
                       status_before=status_before, changes=changes, state=state)


def _plan(session: Session, data: bytes, *, filename: str, fmt: str | None,
          program_code: str, allow_operational: bool,
          lock: bool = False) -> tuple[ItemFilePlan, _Bank]:
    program = get_program(session, program_code)
    fmt = fmt or Path(filename).suffix.lower().lstrip(".")
    unit, rows, problems = read_file(data, filename=filename, fmt=fmt)
    reader = _Reader(fmt if fmt in FORMATS else "csv")
    reader.problems = problems
    bank = _Bank(session, program, {r.code for r in rows}, lock)
    first: dict[str, int] = {}
    planned: list[PlannedItem] = []
    for values in rows:
        if values.code in first:
            reader.problem(values.where, "id", "import_duplicate_id", code=values.code,
                           first=Notice(f"import_at_{unit}", {"n": first[values.code]}))
            continue
        first[values.code] = values.where
        item = _plan_one(values, bank, allow_operational, reader)
        if item is not None:
            planned.append(item)
    order = {name: n for n, name in enumerate([*COLUMNS, *EXTRA_COLUMNS])}
    problems = sorted(reader.problems, key=lambda p: (p.where is not None, p.where or 0,
                                                      order.get(p.field, -1)))
    return ItemFilePlan(program=program.code, filename=filename, format=fmt, unit=unit,
                        items=tuple(planned), problems=tuple(problems)), bank


def plan_file(session: Session, data: bytes, *, filename: str, program_code: str,
              fmt: str | None = None, allow_operational: bool = False) -> ItemFilePlan:
    """Read an item file against the program's bank and say what importing it would do, or
    every problem; writes nothing.  ``fmt``: csv or json, by the file name when None;
    ``allow_operational``: new items with a and b may enter as operational (an
    administrator's choice)."""
    return _plan(session, data, filename=filename, fmt=fmt, program_code=program_code,
                 allow_operational=allow_operational)[0]


@transactional
def import_file(session: Session, data: bytes, *, filename: str, program_code: str,
                actor: str, fmt: str | None = None, allow_operational: bool = False,
                expected: str | None = None) -> ItemFilePlan:
    """Create and change the items of an item file, all or nothing, as ``actor``.

    ItemFileRejected (a ValueError) names every problem; with ``expected`` (the digest of
    the preview the writer saw) a file that would now do anything else is refused with
    Conflict ``import_preview_stale``.  Each created item gets an ``item_imported`` audit
    entry, each changed one ``item_import_changed`` (the fields, the status before and
    after), the file an ``items_imported`` summary.
    """
    return _import(session, data, filename=filename, fmt=fmt, program_code=program_code,
                   actor=actor, allow_operational=allow_operational, expected=expected)


def _import(session: Session, data: bytes, *, filename: str, fmt: str | None,
            program_code: str, actor: str, allow_operational: bool,
            expected: str | None) -> ItemFilePlan:
    plan, bank = _plan(session, data, filename=filename, fmt=fmt, program_code=program_code,
                       allow_operational=allow_operational, lock=True)
    if plan.problems:
        raise ItemFileRejected(plan)
    if expected is not None and plan.digest != expected:
        raise Conflict("import_preview_stale")
    program = bank.program
    for planned in plan.items:
        if planned.action == "new":
            item = _create(session, program, bank, planned, actor)
        elif planned.action == "changed":
            item = _change(bank.items[planned.code], bank, planned, actor)
        else:
            continue
        session.add(AuditLog(
            actor=actor, subject=f"item:{item.code}",
            action="item_imported" if planned.action == "new" else "item_import_changed",
            details={"program": program.code, "status": item.status.value, plan.unit:
                     planned.where, "file": filename} | ({} if planned.action == "new" else {
                         "fields": [c.field for c in planned.changes],
                         "status": [planned.status_before.value, item.status.value]})))
    session.flush()
    refresh_families(session, program.id)  # the new and changed items' template names
    session.add(AuditLog(actor=actor, action="items_imported", subject=f"program:{program.code}",
                         details={"new": len(plan.new), "changed": len(plan.changed),
                                  "unchanged": len(plan.unchanged), "file": filename}))
    return plan


def _tag(bank: _Bank, planned: PlannedItem) -> ContentTag | None:
    materi = bank.materi[planned.materi]
    return bank.tags[(materi.id, planned.content_tag)] if planned.content_tag else None


def _create(session: Session, program: Program, bank: _Bank, planned: PlannedItem,
            actor: str) -> Item:
    state = planned.state
    item = new_item(program, bank.materi[planned.materi], code=planned.code, stem=planned.stem,
                    options=list(planned.options), key=planned.key, model=state["model"],
                    a=state["a"], b=state["b"], c=state["c"], status=planned.status,
                    content_tag=_tag(bank, planned), author=state["author"] or actor,
                    se=(state["se_a"], state["se_b"], state["se_c"]), family=state["family"])
    item.p_guess = state["p_guess"]
    parameters_set_by(item, actor)
    session.add(item)
    return item


def _change(item: Item, bank: _Bank, planned: PlannedItem, actor: str) -> Item:
    """New content is the item's next version, as in the editor; a status step one more."""
    if planned.changes:
        state = planned.state
        item.materi_id = bank.materi[planned.materi].id
        tag = _tag(bank, planned)
        item.content_tag_id = tag.id if tag else None
        item.family, item.p_guess = state["family"], state["p_guess"]
        item.stem, item.options, item.key = planned.stem, list(planned.options), planned.key
        item.model = IrtModel(state["model"])
        for name in PARAMETER_COLUMNS:
            setattr(item, name, state[name])
        parameters_set_by(item, actor)
        item.version += 1
    if planned.status != item.status:
        item.transition(planned.status)
    return item


# ------------------------------------------------------------------- the browser's preview


def save_upload(session: Session, data: bytes, *, filename: str, program_id: int,
                actor: str, allow_operational: bool, now: dt.datetime | None = None) -> str:
    """Keep an uploaded item file until the writer confirms its preview; the token."""
    fmt = Path(filename).suffix.lower().lstrip(".")
    return save_draft(session, data, filename=filename, fmt=fmt, program_id=program_id,
                      materi_id=None, actor=actor, allow_operational=allow_operational,
                      now=now)


@transactional
def import_draft(session: Session, token: str, *, actor: str, expected: str,
                 may_allow_operational: bool, now: dt.datetime | None = None) -> ItemFilePlan:
    """Import the confirmed upload (read again against the bank, all or nothing) and delete
    it; LookupError when it is gone, Conflict when the bank changed since the preview
    (``expected``, the preview's digest), Forbidden when it allows operational items and the
    confirming account may not."""
    draft = take_draft(session, token, formats=FORMATS, now=now)
    if draft.allow_operational and not may_allow_operational:
        raise Forbidden("import_operational_forbidden")
    program = session.get(Program, draft.program_id)
    return _import(session, draft.data, filename=draft.filename, fmt=draft.format,
                       program_code=program.code, actor=actor,
                       allow_operational=draft.allow_operational, expected=expected)


# ------------------------------------------------------------------------------- writing


def item_records(session: Session, program_code: str) -> list[dict[str, Any]]:
    """Every item of the program as the file's records (JSON form), ordered by id."""
    program = get_program(session, program_code)
    rows = session.execute(
        select(Item, Materi.code, ContentTag.code)
        .join(Materi, Item.materi_id == Materi.id)
        .outerjoin(ContentTag, Item.content_tag_id == ContentTag.id)
        .where(Item.program_id == program.id).order_by(Item.code)).all()
    return [{
        "id": item.code, "materi": materi_code, "content_tag": tag_code or "",
        "family": item.family, "stem": item.stem,
        **dict(zip(OPTION_COLUMNS, [*item.options, *[""] * len(LETTERS)], strict=False)),
        "key": LETTERS[item.key], "model": item.model.value,
        **{n: getattr(item, n) for n in PARAMETER_COLUMNS}, "p_guess": item.p_guess,
        "status": item.status.value, "author": item.author, "version": item.version,
    } for item, materi_code, tag_code in rows]


def export_items(session: Session, *, program_code: str, fmt: str) -> str:
    """The program's items as an item file (JSON or CSV text), importable as it is."""
    records = item_records(session, program_code)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (use json or csv)")
    out = io.StringIO()
    # CRLF rows (RFC 4180): with it the writer also quotes a cell holding a lone CR, which
    # with "\n" rows it would leave bare and break the file.
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else csv_text(v) if isinstance(v, str) else v
                      for k, v in record.items()} for record in records)
    return out.getvalue()


def describe(plan: ItemFilePlan) -> Iterable[str]:
    """The plan in English lines (the command line's preview)."""
    yield (f"{plan.filename} into {plan.program}: {len(plan.new)} new, {len(plan.changed)} "
           f"changed, {len(plan.unchanged)} unchanged, {len(plan.problems)} problem(s)")
    for item in plan.items:
        if item.action == "unchanged":
            continue
        what = ", ".join(f"{c.field} {_short(c.before)} -> {_short(c.after)}"
                         for c in item.changes)
        if item.status_before is not None and item.status != item.status_before:
            what = ", ".join(x for x in (what, f"status {item.status_before.value} -> "
                                               f"{item.status.value}") if x)
        yield (f"  {plan.unit} {item.where}: {item.action} {item.code} "
               f"({item.materi}, {item.status.value}){': ' + what if what else ''}")
    for problem in plan.problems:
        yield f"  {problem.text()}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["COLUMNS", "Change", "ItemFilePlan", "ItemFileRejected", "PlannedItem",
           "Problem", "describe", "export_items", "import_draft", "import_file",
           "item_records", "plan_file", "read_file", "save_upload"]
