"""program_logo: the agency's logo printed on a program's certificates

One row per program at most (the program's id is the key): the logo as the PNG that
item_bank.admin.set_program_logo re-encoded from the administrator's upload, its media type
and when it was uploaded.  It is a table of its own rather than a program setting because
the settings are read by every exam request and a logo is tens of kilobytes.

Revision ID: 0009_program_logo
Revises: 0008_session_version
Create Date: 2026-12-02 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_program_logo"
down_revision: str | Sequence[str] | None = "0008_session_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "program_logo",
        sa.Column("program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False, autoincrement=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["program.id"],
                                name=op.f("fk_program_logo_program_id_program")),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_program_logo")),
    )


def downgrade() -> None:
    op.drop_table("program_logo")
