"""Log drains: per-minute counters of each app's router and runtime lines, and the Logplex
batches taken (a batch sent again is not counted twice).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_counts",
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app_name", "minute", "metric"),
    )
    op.create_table(
        "log_batches",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("log_batches") as batch:
        batch.create_index(batch.f("ix_log_batches_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_batches") as batch:
        batch.drop_index(batch.f("ix_log_batches_seen_at"))
    op.drop_table("log_batches")
    op.drop_table("log_counts")
