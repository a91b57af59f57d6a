"""attempt.imputed_items: the items counted as wrong answers up to the minimum length

A CAT that ends with fewer answers than its minimum is graded with the missing answers counted
as wrong, on the items the CAT would have given next (item_bank.policy.decide); those item ids
are kept with the attempt so that its grade can be reproduced.  Existing attempts have none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imputed_items", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("imputed_items")
