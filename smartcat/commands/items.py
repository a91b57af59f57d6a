"""``smartcat items import|export``: items as CSV or JSON (columns in docs/item_bank.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from item_bank.cli_support import add_db_option, cli_session
from item_bank.importexport import export_items, import_items


def register(sub, groups) -> None:
    items = groups["items"]
    imp = items.add_parser("import", help="import items (all-or-nothing)")
    imp.add_argument("file", type=Path, help="a .csv or .json file")
    imp.add_argument("--program", required=True, metavar="CODE")
    imp.add_argument("--author", default="import",
                     help="the importer: actor of the audit entries, author of rows without one")
    imp.add_argument("--allow-operational", action="store_true",
                     help="rows with status operational and a, b enter as operational "
                          "(else a new item must be draft)")
    add_db_option(imp)
    imp.set_defaults(func=_import)
    exp = items.add_parser("export", help="export a program's items")
    exp.add_argument("--program", required=True, metavar="CODE")
    exp.add_argument("--format", choices=("json", "csv"), default="json")
    exp.add_argument("--output", "-o", type=Path, default=None, help="file (default: stdout)")
    add_db_option(exp)
    exp.set_defaults(func=_export)


def _import(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        count = import_items(session, args.file, program_code=args.program, author=args.author,
                             allow_operational=args.allow_operational)
    print(f"imported {count} items into {args.program}")
    return 0


def _export(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        text = export_items(session, program_code=args.program, fmt=args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8", newline="")  # the CSV has its CRLF
    return 0
