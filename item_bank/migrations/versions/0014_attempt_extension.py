"""invigilators' extensions of an attempt's time

- ``attempt_extension``: each extension of a running attempt's time by an administrator
  (seconds, the reason, who, when).  The extension is applied to ``attempt.deadline`` itself;
  these rows record it and bound the total.
- ``service_token_use``: when each certification service token was last accepted.

Revision ID: 0014_attempt_extension
Revises: 0013_service_token_scopes
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_attempt_extension"
down_revision: str | Sequence[str] | None = "0013_service_token_scopes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "attempt_extension",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("seconds", ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seconds > 0", name=op.f("ck_attempt_extension_seconds_positive")),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempt.id"],
                                name=op.f("fk_attempt_extension_attempt_id_attempt")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt_extension")),
    )
    op.create_index(op.f("ix_attempt_extension_attempt_id"), "attempt_extension",
                    ["attempt_id"])
    op.create_table(
        "service_token_use",
        sa.Column("token_id", ID, nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["service_token.id"],
                                name=op.f("fk_service_token_use_token_id_service_token")),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_service_token_use")),
    )


def downgrade() -> None:
    op.drop_table("service_token_use")
    op.drop_index(op.f("ix_attempt_extension_attempt_id"), table_name="attempt_extension")
    op.drop_table("attempt_extension")
