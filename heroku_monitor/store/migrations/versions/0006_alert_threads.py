"""Thread replies and edits in the outbox: what a row asks of Slack (post, reply, update),
the message it replies to or edits, and whether a reply is broadcast to the channel.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("action", sa.String(length=10), server_default="post", nullable=False)
        )
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("broadcast", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch.create_foreign_key(
            "fk_alerts_parent_id_alerts", "alerts", ["parent_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("fk_alerts_parent_id_alerts", type_="foreignkey")
        batch.drop_column("broadcast")
        batch.drop_column("parent_id")
        batch.drop_column("action")
