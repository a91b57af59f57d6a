"""The pool's ping of a connection idle for a while (item_bank.db) hands it out outside a
transaction, so a read in autocommit (the per-request session check) works on it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from item_bank import accounts, db
from item_bank.db import make_engine, session_factory, upgrade
from item_bank.models import Participant

pytestmark = pytest.mark.postgres


def test_a_pinged_connection_is_idle_for_the_session_check(postgres_database, monkeypatch):
    url = postgres_database("ping")
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            participant = Participant(nip="199001012020121001", name="Peserta")
            session.add(participant)
            session.commit()
            participant_id = participant.id
        # Every checkout now pings (as one after more than PING_AFTER_IDLE_S idle would).
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
        with session_factory(engine)() as session:
            for _ in range(3):
                assert accounts.session_version(session, Participant, participant_id) == 0
            session.execute(text("SELECT 1"))  # the ORM's own use of a pinged connection
    finally:
        engine.dispose()
