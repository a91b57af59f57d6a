"""``smartcat participants import FILE.csv --program CODE`` (nip,name,unit; all-or-nothing)."""

from __future__ import annotations

import argparse
from pathlib import Path

from item_bank.cli_support import add_db_option, cli_session
from item_bank.importexport import import_participants


def register(sub, groups) -> None:
    imp = groups["participants"].add_parser("import", help="register and enrol a roster")
    imp.add_argument("file", type=Path, help="CSV with header nip,name,unit")
    imp.add_argument("--program", required=True, metavar="CODE")
    add_db_option(imp)
    imp.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        count = import_participants(session, args.file, program_code=args.program)
    print(f"registered and enrolled {count} participants in {args.program}")
    return 0
