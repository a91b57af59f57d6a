"""login_attempt: one row per try with its account and client address

The login throttle (item_bank.login_throttle) counts failures per (account, address) pair,
per account and per address, so a try is one row with both instead of one row per key.  The
rows are short-lived throttle state (nothing older than the longest window is read), so the
old rows are dropped rather than converted.

Revision ID: 0007_login_throttle
Revises: 0006_bigint_ids
Create Date: 2026-12-02 06:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_login_throttle"
down_revision: str | Sequence[str] | None = "0006_bigint_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM login_attempt"))
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_attempt_key")
        batch_op.drop_column("attempt_key")
        batch_op.add_column(sa.Column("account", sa.String(length=200), nullable=False))
        batch_op.add_column(sa.Column("address", sa.String(length=100), nullable=False))
        batch_op.create_index("ix_login_attempt_account_at", ["account", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_address_at", ["address", "at"], unique=False)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM login_attempt"))
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_address_at")
        batch_op.drop_index("ix_login_attempt_account_at")
        batch_op.drop_column("address")
        batch_op.drop_column("account")
        batch_op.add_column(sa.Column("attempt_key", sa.String(length=200), nullable=False))
        batch_op.create_index("ix_login_attempt_attempt_key", ["attempt_key"], unique=False)
