"""Objects shared by the whole app: the database session factory and CSRF protection."""

from __future__ import annotations

import threading

from flask import Flask, current_app, g
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker

from server import bank

csrf = CSRFProtect()


class Database:
    """One engine per app, one SQLAlchemy session per request (closed at teardown).

    The item_bank policy functions commit their own transactions; the session here is only
    the unit of work they run in.  On the exam routes over PostgreSQL the policy works on a
    driver connection of its own and the session only names the engine: such a session, that
    never began a transaction or held an object, is kept for the thread's next request
    instead of being closed and built again (both cost more than the rest of the request's
    bookkeeping); any other is closed and dropped, as before.
    """

    def init_app(self, app: Flask) -> None:
        pool = {}
        if app.config["DB_POOL_SIZE"] > 0:
            pool = {"pool_size": app.config["DB_POOL_SIZE"],
                    "max_overflow": app.config["DB_MAX_OVERFLOW"],
                    "pool_timeout": app.config["DB_POOL_TIMEOUT"]}
        engine = bank.make_engine(app.config["DATABASE_URL"], **pool)
        app.extensions["smartcat_db"] = bank.session_factory(engine)
        app.extensions["smartcat_db_unused"] = threading.local()
        app.teardown_appcontext(self._close)

    @staticmethod
    def factory(app: Flask | None = None) -> sessionmaker:
        return (app or current_app).extensions["smartcat_db"]

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            unused = current_app.extensions["smartcat_db_unused"]
            session = getattr(unused, "session", None)
            if session is None:
                session = self.factory()()
            else:
                unused.session = None
            g.db_session = session
        return g.db_session

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        if (session.in_transaction() or session.identity_map or session.new
                or session.deleted):
            session.close()
        else:
            current_app.extensions["smartcat_db_unused"].session = session


db = Database()
