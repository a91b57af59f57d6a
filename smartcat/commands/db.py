"""``smartcat db upgrade``: create or upgrade the database schema (Alembic)."""

from __future__ import annotations

import argparse

from item_bank.cli_support import add_db_option
from item_bank.db import current_revision, upgrade


def register(sub, groups) -> None:
    parser = groups["db"].add_parser("upgrade", help="create or upgrade the database schema")
    add_db_option(parser)
    parser.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    shown = upgrade(args.db)
    print(f"database {shown} at revision {current_revision(args.db)}")
    return 0
