"""Who a monitor's crash-loop escalation calls (None: ALERT_MENTION's choice).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("alert_mention", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("alert_mention")
