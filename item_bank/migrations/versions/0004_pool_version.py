"""pool_version: a counter kept by triggers that moves with every committed pool change

A worker caches each exam's pool; it used to check the cache on every answer with an aggregate
over the pool's operational items (count, id sum, last update), which cost about 300 us of
server CPU per answer and could miss a change: ``updated_at = now()`` is the start time of the
editing transaction, so two overlapping edits may commit in the order that leaves the last
update where it was, and a pool rebuilt between the two commits stayed stale for good.

The counter is one row.  Triggers bump it when a transaction inserts, updates or deletes an
item, or updates or deletes a content tag or a materi (their codes label pool content).
PostgreSQL: deferred constraint triggers, so the counter row is locked only while an editing
transaction commits, after all its item row locks are taken (with immediate triggers two
transactions editing items of one program deadlock: T1 locks item X then the counter, T2 locks
item Y then waits for the counter, T1 waits for Y), and the values follow the commit order;
a transaction-local setting makes it one bump per transaction, not one per row (a calibration
updates about 1,000 items).  SQLite has one writer at a time, so plain row triggers give the
commit order without any deadlock.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, events that change a pool)
_WATCHED = (("item", ("INSERT", "UPDATE", "DELETE")),
            ("content_tag", ("UPDATE", "DELETE")),
            ("materi", ("UPDATE", "DELETE")))

_PG_BUMP = """
CREATE FUNCTION pool_version_bump() RETURNS trigger AS $$
BEGIN
    IF current_setting('smartcat.pool_version_bumped', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('smartcat.pool_version_bumped', 'on', true);
        UPDATE pool_version SET version = version + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "pool_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_pool_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_version")),
    )
    op.execute("INSERT INTO pool_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_BUMP)
        for table, events in _WATCHED:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_pool_version AFTER {' OR '.join(events)} "
                f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION pool_version_bump()")
        return
    for table, events in _WATCHED:
        for event in events:
            op.execute(
                f"CREATE TRIGGER {table}_pool_version_{event.lower()} AFTER {event} ON {table} "
                "BEGIN UPDATE pool_version SET version = version + 1 WHERE id = 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _events in _WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_pool_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS pool_version_bump()")
    else:
        for table, events in _WATCHED:
            for event in events:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_pool_version_{event.lower()}")
    op.drop_table("pool_version")
