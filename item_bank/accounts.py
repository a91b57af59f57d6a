"""Account changes around logging in: the failed-login record, roster passwords and the
session versions that end sessions.

Each function that changes something is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

from sqlalchemy import Engine, bindparam, delete, select, update
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import AuditLog, LoginAttempt, Participant, StaffUser
from .security import hash_password
from .tx import transactional

Account = type[Participant] | type[StaffUser]

_VERSION_OF = {model: select(model.session_version).where(model.id == bindparam("id"))
               for model in (Participant, StaffUser)}
_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


@transactional
def record_login_try(session: Session, *, keys: tuple[str, ...]) -> list[int]:
    """Write this try as a failure under each key; returns the row ids (to clear on success)."""
    rows = [LoginAttempt(key=key) for key in keys]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


@transactional
def clear_login_try(session: Session, row_ids: list[int]) -> None:
    """The try succeeded: it is not a failure."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(row_ids)))


@transactional
def set_passwords(session: Session, passwords: Mapping[str, str]) -> None:
    """Set the password of each registered NIP (argon2id hashes)."""
    for participant in session.scalars(
            select(Participant).where(Participant.nip.in_(list(passwords)))):
        participant.password_hash = hash_password(passwords[participant.nip])
        participant.session_version += 1  # a new password ends the sessions of the old one


def session_version(session: Session, model: Account, account_id: int) -> int | None:
    """The account's session version; None when there is no such account.

    Read on an AUTOCOMMIT connection of the session's engine that goes back to the pool at
    once: the server checks every request's session before its view runs, and a read on the
    ORM session would keep its connection until the end of the request (on SQLite with the
    write lock of ``BEGIN IMMEDIATE``, on PostgreSQL beside the policy's own connection).
    """
    engine = session.get_bind()
    reader = _READERS.get(engine)  # type: ignore[arg-type]
    if reader is None:
        reader = _READERS[engine] = engine.execution_options(  # type: ignore[index]
            isolation_level="AUTOCOMMIT")
    with reader.connect() as connection:
        return connection.execute(_VERSION_OF[model], {"id": account_id}).scalar_one_or_none()


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
