"""Slow responses (SPEC §15): per app and minute, the router's response times as counts
in fixed histogram buckets (`core.logs.latency.BOUNDS`: b0 … b16), one row an app and
minute, added to by every process.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BUCKETS = 17  # len(core.logs.latency.BOUNDS) + 1, as it was written


def upgrade() -> None:
    op.create_table(
        "log_latency",
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        *(
            sa.Column(f"b{i}", sa.Integer(), nullable=False, server_default="0")
            for i in range(BUCKETS)
        ),
        sa.PrimaryKeyConstraint("app_name", "minute"),
    )
    with op.batch_alter_table("log_latency") as batch:
        batch.create_index("ix_log_latency_minute", ["minute"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_latency") as batch:
        batch.drop_index("ix_log_latency_minute")
    op.drop_table("log_latency")
