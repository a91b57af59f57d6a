"""Helpers shared by the item_bank CLI commands (``--db`` option, one session per command)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from .db import make_engine, session_factory


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: $SMARTCAT_DATABASE_URL or "
                             "sqlite:///./smartcat.sqlite)")


@contextmanager
def cli_session(url: str | None) -> Iterator[Session]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
