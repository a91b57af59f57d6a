"""Engines, sessions, the database clock, row locks and programmatic Alembic upgrades.

SQLite serialises writers with ``BEGIN IMMEDIATE`` on every transaction (set up by an event
listener here), so a policy function holds the write lock from its first statement; on
PostgreSQL the policy locks the rows it guards with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///./smartcat.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL given, else ``SMARTCAT_DATABASE_URL``, else ``./smartcat.sqlite``.

    ``postgresql://`` URLs are pointed at the psycopg 3 driver.
    """
    url = url or os.environ.get("SMARTCAT_DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ValueError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: "
                         "use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, a busy timeout and BEGIN IMMEDIATE."""
    url = database_url(url)
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 60)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_locking(engine)
        return engine
    engine = create_engine(url, **kwargs)
    _install_idle_ping(engine)
    return engine


# A pooled connection unused for this long is checked with a round trip before it is handed
# out, so that one left over from before a database restart is replaced instead of failing a
# request.  SQLAlchemy's pool_pre_ping would do that on every checkout, which under load is
# one more round trip per request for connections that were in use a millisecond ago.
PING_AFTER_IDLE_S = 1.0


def _install_idle_ping(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # Hand the connection out as it was, outside a transaction: the driver began one
            # for the ping, and a caller that reads in autocommit (the session check,
            # item_bank.accounts) may not find one open.
            dbapi_connection.rollback()
        except Exception as exc:  # any driver error: the connection is unusable
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def _install_sqlite_locking(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL still never corrupts the file; it only skips an fsync per commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # An immediate write lock: two policy calls can never read the same state and
        # both act on it; the second waits (busy timeout) until the first commits.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (policy results are returned)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _clock(session: Session) -> Any:
    if is_postgresql(session):
        return func.clock_timestamp()
    return func.strftime("%Y-%m-%d %H:%M:%f", "now")


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite's strftime
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def db_now(session: Session) -> dt.datetime:
    """The database's clock as an aware UTC datetime (all hosts agree on one clock)."""
    return _as_utc(session.execute(select(_clock(session))).scalar_one())


def lock_with_clock(session: Session, model: type, ident: Any,
                    *columns: str) -> dt.datetime | tuple | None:
    """Lock one row by primary key (``SELECT ... FOR UPDATE``; SQLite: the transaction already
    holds the write lock) and read the database clock after the lock, in one round trip.

    None when there is no such row; with ``columns`` (names of the row's columns), the tuple
    (clock, *values) of the locked row.  Every request that serializes on a participant needs
    the lock and the clock; as two statements they cost a round trip and an ORM load more.
    """
    table = model.__table__
    row = select(literal(1).label("one"), *(table.c[name] for name in columns)
                 ).where(table.c.id == ident)
    if is_postgresql(session):
        row = row.with_for_update()
    locked = row.subquery("locked")
    # The clock is read above the locked subquery: in ``SELECT clock_timestamp() FROM t ...
    # FOR UPDATE`` PostgreSQL computes it below the lock, i.e. before waiting for it.
    found = session.execute(select(_clock(session), *(locked.c[name] for name in columns))
                            .select_from(locked)).one_or_none()
    if found is None:
        return None
    return (_as_utc(found[0]), *found[1:]) if columns else _as_utc(found[0])


def lock_one(session: Session, model: type, ident: Any) -> Any:
    """Load one row by primary key with ``SELECT ... FOR UPDATE`` (SQLite: already locked)."""
    stmt = select(model).where(model.id == ident).with_for_update()
    return session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> str:
    """Create or upgrade the schema to ``revision``; returns the URL (password hidden)."""
    from alembic import command

    url = database_url(url)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
    return make_url(url).render_as_string(hide_password=True)


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
