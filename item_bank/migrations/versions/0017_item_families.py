"""item families and enemies; the cold start

- ``item.family``: the template an item is a variant of, as its writer names it;
  ``item.family_id``: the least item id of its family joined by its enemies (NULL alone).
- ``item_enemy``: pairs of items a writer marked as enemies (one gives away the other).
- ``seen_item.family_id``: the item's family when it was shown, UNIQUE per participant and
  program, so the database refuses a second item of one family.  Existing rows get their item's
  own id (no item had a family before).
- The cold start: ``item.p_guess`` (a writer's guess of the share of right answers),
  ``item.provisional`` (parameters from that guess, until a calibration) and
  ``attempt.scored_by`` (``domain``, or ``proportion`` for a LOFT form of provisional items).

Revision ID: 0017_item_families
Revises: 0016_item_file_drafts
Create Date: 2026-12-04 20:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_item_families"
down_revision: str | Sequence[str] | None = "0016_item_file_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fire_pending_triggers() -> None:
    """PostgreSQL refuses to alter a table with pending trigger events: the deferred
    pool-version triggers of rows an earlier migration of this transaction wrote fire now."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")


def upgrade() -> None:
    _fire_pending_triggers()
    # Adding columns changes no pool (the items stay alone), but SQLite's batch may not
    # recreate the item table: its pool-version triggers would go with it.  ALTER TABLE ADD
    # COLUMN keeps them.
    op.add_column("item", sa.Column("family", sa.String(length=64), server_default="",
                                    nullable=False))
    op.add_column("item", sa.Column("family_id", ID, nullable=True))
    op.create_index(op.f("ix_item_family_id"), "item", ["family_id"])
    op.add_column("item", sa.Column("p_guess", sa.Double(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # SQLite adds a table's CHECK only by recreating it (and its pool-version triggers
        # with it): there the editor and the item file check the range.
        op.create_check_constraint(op.f("ck_item_p_guess_range"), "item",
                                   "p_guess IS NULL OR (p_guess > 0 AND p_guess < 1)")
    op.add_column("item", sa.Column("provisional", sa.Boolean(), server_default=sa.false(),
                                    nullable=False))
    op.add_column("attempt", sa.Column("scored_by", sa.String(length=12),
                                       server_default="domain", nullable=False))
    op.create_table(
        "item_enemy",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("enemy_id", ID, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("item_id < enemy_id", name=op.f("ck_item_enemy_ordered_pair")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_item_enemy_item_id_item")),
        sa.ForeignKeyConstraint(["enemy_id"], ["item.id"],
                                name=op.f("fk_item_enemy_enemy_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_enemy")),
        sa.UniqueConstraint("item_id", "enemy_id", name=op.f("uq_item_enemy_item_id_enemy_id")),
    )
    op.create_index(op.f("ix_item_enemy_enemy_id"), "item_enemy", ["enemy_id"])
    op.add_column("seen_item", sa.Column("family_id", ID, nullable=True))
    op.execute("UPDATE seen_item SET family_id = item_id")
    with op.batch_alter_table("seen_item") as batch:
        batch.alter_column("family_id", existing_type=ID, nullable=False)
        batch.create_unique_constraint(
            op.f("uq_seen_item_participant_id_program_id_family_id"),
            ["participant_id", "program_id", "family_id"])


def downgrade() -> None:
    _fire_pending_triggers()
    with op.batch_alter_table("seen_item") as batch:
        batch.drop_constraint(op.f("uq_seen_item_participant_id_program_id_family_id"),
                              type_="unique")
        batch.drop_column("family_id")
    op.drop_index(op.f("ix_item_enemy_enemy_id"), table_name="item_enemy")
    op.drop_table("item_enemy")
    with op.batch_alter_table("attempt") as batch:
        batch.drop_column("scored_by")
    op.drop_index(op.f("ix_item_family_id"), table_name="item")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("provisional")
        batch.drop_column("p_guess")
        batch.drop_column("family_id")
        batch.drop_column("family")
