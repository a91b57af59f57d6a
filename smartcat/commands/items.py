"""``smartcat items import|export``: items as CSV or JSON (columns in docs/item_bank.md), and
question files of other tools (Moodle XML, GIFT, Aiken, QTI; docs/item_bank.md, "Item
exchange")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from item_bank import item_file
from item_bank.cli_support import add_db_option, cli_session
from item_bank.exchange.base import check_length
from item_bank.exchange.load import FORMATS, ImportPlan, import_file, plan_import
from item_bank.exchange.write import EXPORT_FORMATS, export_exchange
from item_bank.importexport import LETTERS


def register(sub, groups) -> None:
    items = groups["items"]
    imp = items.add_parser("import", help="import items (all-or-nothing)")
    imp.add_argument("file", type=Path, help="a .csv or .json file, or with --format a "
                                             "Moodle XML, GIFT, Aiken or QTI file or package")
    imp.add_argument("--program", required=True, metavar="CODE")
    imp.add_argument("--format", choices=("csv", "json", *FORMATS), default=None,
                     help="the file's format (default: csv or json by its extension); the "
                          "other formats need --materi")
    imp.add_argument("--materi", metavar="CODE",
                     help="the materi that the questions of a --format file go into")
    imp.add_argument("--pretest", action="store_true",
                     help="questions of a --format file that carry a and b enter as pretest "
                          "(else as draft)")
    imp.add_argument("--dry-run", action="store_true",
                     help="show what would be created and changed, or every problem, and "
                          "store nothing (exit 1 when there is any)")
    imp.add_argument("--author", default="import",
                     help="the importer: actor of the audit entries, author of rows without one")
    imp.add_argument("--allow-operational", action="store_true",
                     help="CSV/JSON rows with status operational and a, b enter as "
                          "operational (else a new item must be draft)")
    add_db_option(imp)
    imp.set_defaults(func=_import)
    exp = items.add_parser("export", help="export a program's items")
    exp.add_argument("--program", required=True, metavar="CODE")
    exp.add_argument("--format", choices=("json", "csv", *EXPORT_FORMATS), default="json",
                     help="json or csv (re-importable), qti (a QTI 3.0 content package, .zip) "
                          "or moodle (Moodle XML)")
    exp.add_argument("--output", "-o", type=Path, default=None,
                     help="file (default: stdout; a QTI package needs a file)")
    add_db_option(exp)
    exp.set_defaults(func=_export)


def _import(args: argparse.Namespace) -> int:
    fmt = args.format
    if fmt in (None, "csv", "json"):
        return _import_item_file(args)
    if not args.materi:
        raise ValueError(f"--format {fmt} needs --materi CODE: the materi the questions go into")
    check_length(args.file.stat().st_size, str(args.file))
    data = args.file.read_bytes()
    if args.dry_run:
        with cli_session(args.db) as session:
            plan = plan_import(session, data, filename=args.file.name, fmt=fmt,
                               program_code=args.program, materi_code=args.materi,
                               as_pretest=args.pretest)
        _print_plan(plan)
        return 1 if plan.problems else 0
    with cli_session(args.db) as session:
        plan = import_file(session, data, filename=args.file.name, fmt=fmt,
                           program_code=args.program, materi_code=args.materi,
                           actor=args.author, as_pretest=args.pretest)
    tags = f"; new content tags: {', '.join(plan.new_tags)}" if plan.new_tags else ""
    print(f"imported {len(plan.items)} items into {args.program} / {args.materi}{tags}")
    return 0


def _import_item_file(args: argparse.Namespace) -> int:
    """The item file (docs/item_bank.md, "Item file"), read as the writer's page reads it."""
    size = args.file.stat().st_size
    if size > item_file.MAX_FILE_BYTES:  # judged before the file is read
        raise ValueError(f"{args.file} is {size / 2**20:.1f} MB; at most "
                         f"{item_file.MAX_FILE_BYTES // 2**20} MB can be imported at once")
    data = args.file.read_bytes()
    options = {"filename": args.file.name, "fmt": args.format, "program_code": args.program,
               "allow_operational": args.allow_operational}
    with cli_session(args.db) as session:
        if args.dry_run:
            plan = item_file.plan_file(session, data, **options)
            print("\n".join(item_file.describe(plan)))
            return 1 if plan.problems else 0
        try:
            plan = item_file.import_file(session, data, actor=args.author, **options)
        except item_file.ItemFileRejected as rejected:
            print(f"smartcat: error: {rejected}", file=sys.stderr)
            return 2
    print(f"imported into {plan.program}: {len(plan.new)} new, {len(plan.changed)} changed, "
          f"{len(plan.unchanged)} unchanged")
    return 0


def _print_plan(plan: ImportPlan) -> None:
    """The preview as the writer's page shows it: each item to store, each refused question."""
    print(f"{plan.filename} into {plan.program} / {plan.materi}: {len(plan.items)} to import, "
          f"{len(plan.problems)} refused")
    for item in plan.items:
        tag = f"{item.tag}{' (new)' if item.new_tag else ''}" if item.tag else "-"
        print(f"  {item.position:>4}  {item.code}  tag {tag}  {item.status.value}  "
              f"key {LETTERS[item.key]} of {len(item.options)}  images {item.images}  "
              f"{item.stem[:60]!r}")
    for position, reason in plan.problems:
        print(f"  refused question {position}: {reason}")
    if plan.problems:
        print("nothing would be imported while any question is refused")


def _export(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        if args.format in EXPORT_FORMATS:
            body = export_exchange(session, program_code=args.program, fmt=args.format)
        else:
            body = item_file.export_items(session, program_code=args.program, fmt=args.format)
    if args.output is None:
        if isinstance(body, bytes) and args.format == "qti":
            raise ValueError("a QTI package is a zip file: give --output FILE.zip")
        sys.stdout.write(body if isinstance(body, str) else body.decode("utf-8"))
    elif isinstance(body, bytes):
        args.output.write_bytes(body)
    else:
        args.output.write_text(body, encoding="utf-8", newline="")  # the CSV has its CRLF
    return 0
