"""``smartcat bank check --program CODE``: are there enough operational items?"""

from __future__ import annotations

import argparse

from item_bank.cli_support import add_db_option, cli_session
from item_bank.reports import bank_check


def register(sub, groups) -> None:
    parser = groups["bank"].add_parser(
        "check", help="check the bank against cohort x attempts x length (exit 1 if short)")
    parser.add_argument("--program", required=True, metavar="CODE")
    parser.add_argument("--cohort", type=int, default=None,
                        help="participants per exam window (default: enrolled participants)")
    parser.add_argument("--no-simulation", action="store_true",
                        help="skip the item-harvest simulation on each exam's pool")
    add_db_option(parser)
    parser.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        report = bank_check(session, program_code=args.program, cohort=args.cohort,
                            simulate=not args.no_simulation)
    print(report.render())
    return 0 if report.ok else 1
