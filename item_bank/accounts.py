"""Account changes around logging in: roster passwords and the session versions that end
sessions (the failed-login record is :mod:`item_bank.login_throttle`).

Each function that changes something is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from .db import db_now
from .errors import NotFound
from .models import AuditLog, Participant, ServiceTokenUse, StaffUser
from .security import hash_password
from .tx import transaction, transactional

Account = type[Participant] | type[StaffUser]

_VERSION_SQL = {model: f"SELECT session_version FROM {model.__tablename__} WHERE id = "
                for model in (Participant, StaffUser)}


@transactional
def set_passwords(session: Session, passwords: Mapping[str, str], *,
                  keep_existing: bool = False) -> None:
    """Set the password of each registered NIP (argon2id hashes); with ``keep_existing``
    only of those who have none yet."""
    stmt = select(Participant).where(Participant.nip.in_(list(passwords)))
    if keep_existing:
        stmt = stmt.where(Participant.password_hash.is_(None))
    for participant in session.scalars(stmt):
        participant.password_hash = hash_password(passwords[participant.nip])
        participant.session_version += 1  # a new password ends the sessions of the old one


def session_version(session: Session, model: Account, account_id: int) -> int | None:
    """The account's session version; None when there is no such account.

    The server checks every request's session before its view runs, so this is one
    primary-key read on a pooled driver connection outside any transaction, given back at
    once: on the ORM session it would keep a connection to the end of the request (on SQLite
    with the write lock of ``BEGIN IMMEDIATE``, on PostgreSQL beside the policy's own), and
    SQLAlchemy's statement machinery cost about 0.2 ms of CPU per answer more than the read.
    PostgreSQL reads in autocommit: one round trip, no BEGIN and no ROLLBACK.
    """
    engine = session.get_bind()
    dialect = engine.dialect
    dbapi = dialect.loaded_dbapi
    sql = _VERSION_SQL[model] + ("?" if dialect.paramstyle == "qmark" else "%s")
    postgres = dialect.name == "postgresql"
    try:
        pooled = engine.raw_connection()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, (account_id,), exc, dbapi.Error) from None
    try:
        connection = pooled.driver_connection
        if postgres:
            connection.autocommit = True
        cursor = connection.cursor()
        try:
            cursor.execute(sql, (account_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if postgres:
            connection.autocommit = False
    except dbapi.Error as exc:
        pooled.invalidate(exc)  # possibly broken, or left in autocommit: never handed out again
        raise DBAPIError.instance(sql, (account_id,), exc, dbapi.Error) from None
    finally:
        pooled.close()
    return None if row is None else row[0]


@transactional
def end_sessions(session: Session, *, model: Account, account_id: int) -> None:
    """Raise the account's session version: every session it has, here or in another
    worker, is anonymous from its next request on (logout)."""
    session.execute(update(model).where(model.id == account_id)
                    .values(session_version=model.session_version + 1))


@transactional
def end_participant_sessions(session: Session, *, participant_id: int,
                             actor: str) -> Participant:
    """An administrator ends every session of a participant (a lost or shared device), with
    an audit entry; NotFound ``participant_not_found`` when there is no such participant."""
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("participant_not_found")
    participant.session_version += 1
    session.add(AuditLog(actor=actor, action="participant_sessions_ended",
                         subject=f"participant:{participant.nip}"))
    session.flush()
    return participant


# A token's last use is kept to the minute: a service polling every second writes once.
TOKEN_USE_RESOLUTION = dt.timedelta(seconds=60)


def record_token_use(session: Session, token_id: int) -> None:
    """Note that the token was accepted now (the database clock), unless that was noted less
    than :data:`TOKEN_USE_RESOLUTION` ago.  Its own transaction when it writes; two first
    uses at once write one row (the other's insert is refused and forgotten)."""
    now = db_now(session)
    row = session.get(ServiceTokenUse, token_id, populate_existing=True)
    if row is not None and row.last_used_at > now - TOKEN_USE_RESOLUTION:
        return
    try:
        with transaction(session):
            if row is None:
                session.add(ServiceTokenUse(token_id=token_id, last_used_at=now))
            else:
                row.last_used_at = now
    except IntegrityError:
        pass  # a concurrent first use wrote the row: its time is as good as this one
