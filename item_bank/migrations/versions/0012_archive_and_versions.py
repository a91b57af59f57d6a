"""programs and exams: archived, and a version for the administrator's edits

- ``program.archived_at`` / ``exam.archived_at``: set when an administrator archives one
  (it keeps its attempts and results, is hidden from participants and starts nothing);
  NULL when it is in use.
- ``program.version`` / ``exam.version``: moves on with every edit; an edit form carries the
  version it was made from, and a save from an older one is refused instead of overwriting
  another administrator's change.

Revision ID: 0012_archive_and_versions
Revises: 0011_item_lifecycle
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_archive_and_versions"
down_revision: str | Sequence[str] | None = "0011_item_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for table in ("program", "exam"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True),
                                       nullable=True))
            batch.add_column(sa.Column("version", INT, nullable=False, server_default="1"))


def downgrade() -> None:
    for table in ("program", "exam"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
            batch.drop_column("archived_at")
