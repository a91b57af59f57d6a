"""Migration 0006_bigint_ids on PostgreSQL with rows: up to BIGINT and back, every row kept.

A database at revision 0005 holds a program, items, participants and a finished attempt with
its responses, seen items, exposure counts and audit entries (made at the head revision by
the models, then migrated down to 0005: the models describe only the head); the upgrade
turns every integer column and id sequence into ``bigint`` and a new row then takes an id
past 2**32; the downgrade (before such a row exists) brings back ``integer``; neither changes a row.
"""

from __future__ import annotations

import pytest
from alembic import command
from item_bank_helpers import build_world, enrolled_participants, take
from sqlalchemy import MetaData, select, text

from item_bank.db import alembic_config, make_engine, session_factory
from item_bank.models import Participant

pytestmark = pytest.mark.postgres


def _rows(session, like: dict[str, list] | None = None) -> dict[str, list]:
    """Every row of every table as the database has it now (reflected: later revisions add
    columns and tables), or only the tables and columns of ``like``'s rows; the throttle's
    login_attempt (reshaped by a later revision, short-lived state) and alembic_version left
    out."""
    metadata = MetaData()
    metadata.reflect(session.connection())
    rows = {}
    for table in metadata.sorted_tables:
        if table.name in ("login_attempt", "alembic_version") or (
                like is not None and table.name not in like):
            continue
        columns = [table.c[name] for name in like[table.name][0]._fields] \
            if like is not None and like[table.name] else list(table.c)
        rows[table.name] = session.execute(
            select(*columns).order_by(*table.primary_key.columns)).all()
    return rows


def _integer_types(session) -> set[str]:
    """The types of the integer columns and id sequences of the schema."""
    columns = session.scalars(text(
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = "
        "'public' AND data_type IN ('smallint', 'integer', 'bigint') AND NOT "
        "(table_name = 'pool_version' AND column_name = 'version')")).all()
    sequences = session.scalars(text("SELECT DISTINCT data_type::text FROM pg_sequences")).all()
    return {f"column {t}" for t in columns} | {f"sequence {t}" for t in sequences}


def test_upgrade_and_downgrade_keep_the_rows(postgres_database):
    url = postgres_database("mig")
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    with session_factory(engine)() as session:
        world = build_world(session, n_materi=1, items_per_materi=12, settings={
            "min_items": 3, "max_items": 4})
        (pid,) = enrolled_participants(session, world.program, 1)
        take(session, pid, world.pre.id, right=True)
    engine.dispose()
    command.downgrade(config, "0005")
    with session_factory(engine)() as session:
        before = _rows(session)
        assert _integer_types(session) == {"column integer", "sequence integer"}
        assert before["response"] and before["audit_log"] and before["item_exposure"]
    engine.dispose()

    command.upgrade(config, "head")
    with session_factory(engine)() as session:
        assert _integer_types(session) == {"column bigint", "sequence bigint"}
        assert _rows(session, before) == before
    engine.dispose()

    command.downgrade(config, "0005")
    with session_factory(engine)() as session:
        assert _integer_types(session) == {"column integer", "sequence integer"}
        assert _rows(session, before) == before
    engine.dispose()

    command.upgrade(config, "head")
    with session_factory(engine)() as session:
        session.execute(text("SELECT setval(pg_get_serial_sequence('participant', 'id'), "
                             ":v)"), {"v": 2**40})
        big = Participant(nip="199901012020121001", name="Peserta Besar")
        session.add(big)
        session.commit()
        assert big.id == 2**40 + 1
        assert session.get(Participant, 2**40 + 1).name == "Peserta Besar"
        assert _rows(session, before) | {"participant": before["participant"]} == before
    engine.dispose()
