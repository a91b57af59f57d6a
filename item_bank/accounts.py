"""Account changes around logging in: the failed-login record and roster passwords.

Each function is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import LoginAttempt, Participant
from .security import hash_password
from .tx import transactional


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
