"""item lifecycle in live exams: pretest responses and parameter versions

- ``response.pretest``: the item was seeded into the attempt as a pretest item to collect
  data for its calibration; shown like the others, left out of the estimate and the grade.
- ``item_parameters``: every set of parameters an item has had (version, who, when, which
  calibration run); ``item.param_version`` is the one in force and ``response.param_version``
  the one an item was selected and scored with.  Items that have parameters get version 1 from
  their current values.
- ``calibration_job``: calibrations asked for on the writer's page, run by a background
  worker outside the request.

Revision ID: 0011_item_lifecycle
Revises: 0010_item_exchange
Create Date: 2026-12-03 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_item_lifecycle"
down_revision: str | Sequence[str] | None = "0010_item_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("response") as batch:
        batch.add_column(sa.Column("pretest", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("param_version", ID, nullable=True))
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("param_version", ID, nullable=True))
    op.create_table(
        "item_parameters",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("a", sa.Double(), nullable=True),
        sa.Column("b", sa.Double(), nullable=True),
        sa.Column("c", sa.Double(), nullable=True),
        sa.Column("se_a", sa.Double(), nullable=True),
        sa.Column("se_b", sa.Double(), nullable=True),
        sa.Column("se_c", sa.Double(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_item_parameters_version_positive")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"],
                                name=op.f("fk_item_parameters_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_parameters")),
        sa.UniqueConstraint("item_id", "version",
                            name=op.f("uq_item_parameters_item_id_version")),
    )
    # Version 1 of the parameters items have now.  Setting item.param_version changes no pool,
    # so the pool version stays: PostgreSQL's trigger is told it has bumped already, and
    # SQLite's (one bump per row) is undone.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("SELECT set_config('smartcat.pool_version_bumped', 'on', true)")
    version = bind.execute(sa.text("SELECT version FROM pool_version WHERE id = 1")).scalar()
    op.execute("""
        INSERT INTO item_parameters (item_id, version, model, a, b, c, se_a, se_b, se_c, actor,
                                     created_at)
        SELECT id, 1, model, a, b, c, se_a, se_b, se_c, author, updated_at FROM item
        WHERE a IS NOT NULL AND b IS NOT NULL""")
    op.execute("UPDATE item SET param_version = 1 WHERE a IS NOT NULL AND b IS NOT NULL")
    bind.execute(sa.text("UPDATE pool_version SET version = :v WHERE id = 1"), {"v": version})
    op.create_table(
        "calibration_job",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("materi_id", ID, nullable=True),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("state", sa.Enum("queued", "running", "done", "failed", name="jobstate",
                                   native_enum=False, length=16), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["program_id"], ["program.id"],
                                name=op.f("fk_calibration_job_program_id_program")),
        sa.ForeignKeyConstraint(["materi_id"], ["materi.id"],
                                name=op.f("fk_calibration_job_materi_id_materi")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_job")),
    )
    op.create_index(op.f("ix_calibration_job_state"), "calibration_job", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_calibration_job_state"), table_name="calibration_job")
    op.drop_table("calibration_job")
    op.drop_table("item_parameters")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("param_version")
    with op.batch_alter_table("response") as batch:
        batch.drop_column("param_version")
        batch.drop_column("pretest")
