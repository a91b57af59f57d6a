"""service_token.scopes: what each token of another system may do

A token's scopes (``certificates:read``, ``admin:read``, ``admin:write``) are chosen when an
administrator creates it; every API route of a service names the scope it needs.  Tokens
from before this revision could pull certificates and results, and nothing else: they get
``["certificates:read"]``, so they keep exactly what they could do.

Revision ID: 0013_service_token_scopes
Revises: 0012_archive_and_versions
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_service_token_scopes"
down_revision: str | Sequence[str] | None = "0012_archive_and_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The default fills the existing rows; new tokens always get their scopes from the
    # application, so the default is dropped again.
    with op.batch_alter_table("service_token") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[\"certificates:read\"]'")))
    with op.batch_alter_table("service_token") as batch:
        batch.alter_column("scopes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("service_token") as batch:
        batch.drop_column("scopes")
