"""The one commit point of the item bank: every change is one transaction, made here.

Each function of ``item_bank`` that changes something runs inside :func:`transaction` (or is
decorated with :func:`transactional`): it commits on success and rolls back on any error, so
a refusal never leaves half a change behind.  :class:`CommitThenRefuse` keeps what the
refused call changed (an attempt expired at its deadline) and refuses all the same.

The exam policy's PostgreSQL store works on a pooled driver connection of its own instead of
the ORM session (:func:`raw_transaction`): the unit of work, flushes and session commit would
cost more CPU than everything else an answer does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

P = ParamSpec("P")
R = TypeVar("R")


class CommitThenRefuse(Exception):
    """Raised inside a transaction: commit what was written, then raise ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """One transaction of ``session``: committed at the end, rolled back on any error."""
    try:
        yield session
        session.commit()
    except CommitThenRefuse as pending:
        session.commit()
        raise pending.error from None
    except BaseException:
        session.rollback()
        raise


def transactional(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn(session, ...)`` as one :func:`transaction` of its session (first argument or
    ``session=``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session: Session = args[0] if args else kwargs["session"]  # type: ignore[assignment]
        with transaction(session):
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def raw_transaction(session: Session) -> Iterator[psycopg.Connection[Any]]:
    """One transaction on a pooled PostgreSQL driver connection of the session's engine.

    Driver errors are reported as SQLAlchemy's (so a database that is down is a 503 like
    everywhere else, :mod:`server.errors`), and a connection broken on the way is never
    handed out again.
    """
    engine = session.get_bind()
    try:
        pooled = engine.raw_connection()
    except psycopg.OperationalError as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from None
    try:
        connection = pooled.driver_connection
        try:
            yield connection
            connection.commit()
        except CommitThenRefuse as pending:
            connection.commit()
            raise pending.error from None
        except psycopg.OperationalError as exc:
            pooled.invalidate(exc)
            raise DBAPIError.instance(None, None, exc, psycopg.Error) from None
        except BaseException:
            connection.rollback()
            raise
    finally:
        pooled.close()


def setup_connection(connection: psycopg.Connection[Any], sql: str) -> bool:
    """Run ``sql``, a driver connection's own set-up (a temporary function, say), in a
    transaction of its own before the connection's next one; False, with nothing changed,
    when the database user lacks the privilege for it."""
    try:
        connection.execute(sql)
        connection.commit()
    except psycopg.errors.InsufficientPrivilege:
        connection.rollback()
        return False
    return True
