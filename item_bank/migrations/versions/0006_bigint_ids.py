"""64-bit integer columns on PostgreSQL: every id, foreign key and counter is BIGINT

The server takes ids up to 2**63-1 (server.MAX_ID); PostgreSQL's ``integer`` holds 32 bits, so
an id above 2**31-1 in a URL was a 500 ("integer out of range") and the ids themselves would
run out at 2**31-1.  Every integer column becomes ``bigint`` and every id sequence ``AS
bigint`` (a serial's sequence keeps its own type when its column changes; its maximum follows
the type because it is the default one).  ALTER ... TYPE rewrites each table once, under an
exclusive lock: on a large installation run it in a maintenance window.

SQLite needs nothing: its INTEGER is already a 64-bit signed integer, and an ``INTEGER PRIMARY
KEY`` must stay declared INTEGER to remain the rowid alias that assigns the ids (the models map
``int`` to BIGINT only outside SQLite, item_bank.models.base.BIG_INTEGER).

Revision ID: 0006_bigint_ids
Revises: 0005
Create Date: 2026-12-10 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_bigint_ids"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The integer columns of revision 0005, by table (pool_version.version is BIGINT already).
_COLUMNS = {
    "assignment": ("id", "program_id"),
    "assignment_completion": ("id", "assignment_id", "participant_id"),
    "attempt": ("id", "participant_id", "program_id", "exam_id", "number", "seed"),
    "audit_log": ("id",),
    "certificate": ("id", "participant_id", "program_id", "attempt_id"),
    "content_tag": ("id", "materi_id"),
    "enrolment": ("id", "participant_id", "program_id"),
    "exam": ("id", "program_id", "materi_id", "max_attempts", "duration_s", "waiting_period_s",
             "min_items", "max_items", "expected_cohort", "attempts_started"),
    "item": ("id", "program_id", "materi_id", "content_tag_id", "answer_key", "version"),
    "item_exposure": ("id", "exam_id", "item_id", "count"),
    "login_attempt": ("id",),
    "materi": ("id", "program_id"),
    "participant": ("id",),
    "pool_version": ("id",),
    "program": ("id",),
    "response": ("id", "attempt_id", "item_id", "position", "choice", "shown_choice"),
    "seen_item": ("id", "participant_id", "program_id", "item_id", "attempt_id"),
    "service_token": ("id",),
    "staff_user": ("id",),
}


def _retype(sql_type: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: see the module's docstring
    for table, columns in _COLUMNS.items():
        # One statement per table: one rewrite of it, not one per column.
        op.execute(f"ALTER TABLE {table} "
                   + ", ".join(f"ALTER COLUMN {c} TYPE {sql_type}" for c in columns))
        sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                {"t": table}).scalar()
        if sequence is not None:  # pool_version's one row has no sequence
            op.execute(f"ALTER SEQUENCE {sequence} AS {sql_type}")


def upgrade() -> None:
    _retype("bigint")


def downgrade() -> None:
    # Refused by PostgreSQL ("integer out of range") once a row holds a value above 2**31-1:
    # such a database cannot go back to 32 bits without losing those rows.
    _retype("integer")
