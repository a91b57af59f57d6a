"""item exchange: an item's source and images, and uploads awaiting confirmation

- ``item.source``: where an imported item came from (format, file, question); empty for an
  item written in the product.
- ``item.image_count`` and ``item_image``: the images shown after a stem (Moodle's embedded
  files, a QTI package's media), numbered from 1 per item.
- ``import_draft``: a writer's uploaded question file between the preview and the
  confirmation.

Revision ID: 0010_item_exchange
Revises: 0009_program_logo
Create Date: 2026-12-03 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_item_exchange"
down_revision: str | Sequence[str] | None = "0009_program_logo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("source", sa.String(length=300), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("image_count", ID, nullable=False,
                                   server_default="0"))
    op.create_table(
        "item_image",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("position", ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_item_image_position_positive")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"],
                                name=op.f("fk_item_image_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_image")),
        sa.UniqueConstraint("item_id", "position", name=op.f("uq_item_image_item_id_position")),
    )
    op.create_table(
        "import_draft",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("materi_id", ID, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("as_pretest", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["program.id"],
                                name=op.f("fk_import_draft_program_id_program")),
        sa.ForeignKeyConstraint(["materi_id"], ["materi.id"],
                                name=op.f("fk_import_draft_materi_id_materi")),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_import_draft")),
    )


def downgrade() -> None:
    op.drop_table("import_draft")
    op.drop_table("item_image")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("image_count")
        batch.drop_column("source")
