"""participant.session_version, staff_user.session_version: sessions that can be revoked

A session stores its account's version at login and the server compares it on every request;
logging out, a password change and an administrator's "end sessions" raise it, which ends
every older session of the account in every worker.  Existing accounts start at 0 (their
sessions from before this revision carry no version and are anonymous: everyone logs in once
more).

Revision ID: 0008_session_version
Revises: 0007_login_throttle
Create Date: 2026-12-02 06:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_session_version"
down_revision: str | Sequence[str] | None = "0007_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("participant", "staff_user")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(
                "session_version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=False, server_default="0"))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("session_version")
