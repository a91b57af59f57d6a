"""Account changes around logging in: roster passwords (the failed-login record is
:mod:`item_bank.login_throttle`).

Each function is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Participant
from .security import hash_password
from .tx import transactional


@transactional
def set_passwords(session: Session, passwords: Mapping[str, str]) -> None:
    """Set the password of each registered NIP (argon2id hashes)."""
    for participant in session.scalars(
            select(Participant).where(Participant.nip.in_(list(passwords)))):
        participant.password_hash = hash_password(passwords[participant.nip])
