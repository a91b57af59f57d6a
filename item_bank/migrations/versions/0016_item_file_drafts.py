"""the writer's CSV/JSON item import waits for confirmation as an import draft

- ``import_draft.materi_id`` may be empty: a CSV or JSON item file names each item's materi
  itself (a question file of another tool goes into one materi chosen at upload).
- ``import_draft.allow_operational``: the administrator's "new items with a and b as
  operational" choice of the upload, applied when the draft is confirmed.

Revision ID: 0016_item_file_drafts
Revises: 0014_attempt_extension
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_item_file_drafts"
down_revision: str | Sequence[str] | None = "0014_attempt_extension"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("import_draft") as batch:
        batch.alter_column("materi_id", existing_type=ID, nullable=True)
        batch.add_column(sa.Column("allow_operational", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    # A waiting upload lives an hour: drafts without a materi are simply dropped.
    op.execute("DELETE FROM import_draft WHERE materi_id IS NULL")
    with op.batch_alter_table("import_draft") as batch:
        batch.drop_column("allow_operational")
        batch.alter_column("materi_id", existing_type=ID, nullable=False)
