"""``smartcat bank check --program CODE``: are there enough operational items?
``smartcat bank monitor --program CODE``: have operational items leaked or drifted?"""

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
    monitor = groups["bank"].add_parser(
        "monitor", help="test the operational items' live answers for leaks and drift "
                        "(exit 1 if any item is flagged)")
    monitor.add_argument("--program", required=True, metavar="CODE")
    monitor.add_argument("--q", type=float, default=None,
                         help="false discovery rate over the bank (default 0.1)")
    add_db_option(monitor)
    monitor.set_defaults(func=_monitor)


def _check(args: argparse.Namespace) -> int:
    with cli_session(args.db) as session:
        report = bank_check(session, program_code=args.program, cohort=args.cohort,
                            simulate=not args.no_simulation)
    print(report.render())
    return 0 if report.ok else 1


def _monitor(args: argparse.Namespace) -> int:
    from item_bank.admin import get_program
    from server import bank

    q = bank.LEAK_Q if args.q is None else args.q
    if not 0 < q < 1:
        raise ValueError(f"--q {q} is not a rate within (0, 1)")
    with cli_session(args.db) as session:
        program = get_program(session, args.program)
        code = program.code
        tests = bank.leak_monitor(session, program_id=program.id, q=q)
    flagged = [t for t in tests if t["flagged"]]
    print(f"leak monitor for program {code}: {len(tests)} operational item(s) with "
          f"enough answers, {len(flagged)} flagged (false discovery rate {q:g})")
    if flagged:
        print(f"{'item':<16}{'answers':>8}{'window':>8}{'right':>7}{'model':>7}{'Z':>7}"
              f"{'p':>10}")
    for t in flagged:
        print(f"{t['code']:<16}{t['answers']:>8}{t['window']:>8}{t['observed']:>7.2f}"
              f"{t['expected']:>7.2f}{t['z']:>7.2f}{t['p_value']:>10.2g}")
    return 1 if flagged else 0
