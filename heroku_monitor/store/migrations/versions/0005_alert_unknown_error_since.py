"""When Slack first answered an alert with an error nobody documented: it is retried for
an hour from then, not from the alert's creation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("unknown_error_since", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("unknown_error_since")
