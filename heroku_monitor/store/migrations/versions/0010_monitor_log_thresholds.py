"""A monitor's log-alert thresholds, "lines/percent/requests" (None: SPEC's defaults).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("log_thresholds", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("log_thresholds")
