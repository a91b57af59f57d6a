"""The ``smartcat`` command line: one entry point, one module per subcommand family.

Each module in :mod:`smartcat.commands` exposes ``register(sub, groups)`` and attaches a
``func(args) -> int`` to the parsers it creates.  Domain errors (``ValueError`` and
:class:`CliError`) become a one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand modules, in the order their help is shown.  A module that is not there yet
# (a part of the product still being built) is simply skipped.
COMMAND_MODULES = (
    "smartcat.commands.demo",
    "smartcat.commands.serve",
    "smartcat.commands.simulate",
    "smartcat.commands.bank",
    "smartcat.commands.bank_check",
    "smartcat.commands.calibrate",
    "smartcat.commands.db",
    "smartcat.commands.items",
    "smartcat.commands.participants",
)

# Families of subcommands (``smartcat bank generate``, ``smartcat bank check``) that several
# modules contribute to.
GROUPS = {
    "bank": "item bank files and capacity checks",
    "db": "database schema",
    "items": "import and export items",
    "participants": "import participant rosters",
}


class CliError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartcat", description="SMART CAT: computerized adaptive testing for civil servants."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, help_text in GROUPS.items():
        group_parser = sub.add_parser(name, help=help_text)
        groups[name] = group_parser.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
        group_parser.set_defaults(func=_usage(group_parser))
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(sub, groups)
    return parser


def _usage(parser: argparse.ArgumentParser):
    def show(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"smartcat: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("smartcat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
