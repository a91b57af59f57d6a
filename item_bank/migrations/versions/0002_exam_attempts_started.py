"""exam.attempts_started: the exposure cap's denominator as a counter

Counting an exam's attempts on every answer cost time in proportion to the participants;
start_attempt now increments this counter instead.  Existing attempts are counted once here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 21:55:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exam", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts_started", sa.Integer(), server_default="0",
                                      nullable=False))
    op.execute("UPDATE exam SET attempts_started = "
               "(SELECT count(*) FROM attempt WHERE attempt.exam_id = exam.id)")


def downgrade() -> None:
    with op.batch_alter_table("exam", schema=None) as batch_op:
        batch_op.drop_column("attempts_started")
